// Runs on the audio thread: a jitter buffer for the character's voice (PCM16, 24 kHz).
// Playback starts once PREROLL of audio is queued (or the answer's audio is complete), so
// network jitter does not chop the voice; "flush" empties the queue at once (barge-in).
const SOURCE_RATE = 24000;
const PREROLL_SECONDS = 0.12;

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = []; // Float32Arrays at SOURCE_RATE
    this.offset = 0; // read position in queue[0]
    this.queued = 0; // samples waiting
    this.position = 0; // fractional read position between samples, for resampling
    this.playing = false;
    this.complete = false; // the answer's last audio has arrived
    this.chunksReceived = 0;
    this.samplesReceived = 0;
    this.samplesPlayed = 0;
    this.flushes = 0;
    this.samplesDropped = 0; // queued audio a flush threw away unplayed
    this.step = SOURCE_RATE / sampleRate;
    this.port.onmessage = (event) => this.receive(event.data);
  }

  receive(message) {
    if (message.type === "audio") {
      const pcm = new Int16Array(message.pcm);
      const samples = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 0x8000;
      this.queue.push(samples);
      this.queued += samples.length;
      this.chunksReceived += 1;
      this.samplesReceived += samples.length;
      this.complete = false;
    } else if (message.type === "complete") {
      this.complete = true;
    } else if (message.type === "flush") {
      this.flushes += 1;
      this.samplesDropped += this.queued;
      this.queue = [];
      this.offset = 0;
      this.queued = 0;
      this.playing = false;
    }
    this.report();
  }

  report(event) {
    this.port.postMessage({
      type: event || "stats",
      chunksReceived: this.chunksReceived,
      samplesReceived: this.samplesReceived,
      samplesPlayed: this.samplesPlayed,
      playing: this.playing,
      flushes: this.flushes,
      samplesDropped: this.samplesDropped,
      queued: this.queued,
    });
  }

  next() {
    const head = this.queue[0];
    const value = head[this.offset++];
    if (this.offset === head.length) {
      this.queue.shift();
      this.offset = 0;
    }
    this.queued -= 1;
    this.samplesPlayed += 1;
    return value;
  }

  process(_inputs, outputs) {
    const output = outputs[0][0];
    if (!this.playing) {
      if (this.queued >= PREROLL_SECONDS * SOURCE_RATE || (this.complete && this.queued > 0)) {
        this.playing = true;
        this.report("started");
      } else {
        return true;
      }
    }
    let current = 0;
    for (let i = 0; i < output.length; i++) {
      this.position += this.step;
      while (this.position >= 1 && this.queued > 0) {
        current = this.next();
        this.position -= 1;
      }
      if (this.queued === 0 && this.position >= 1) {
        // Ran dry: wait for the preroll again rather than play every gap as a click.
        this.playing = false;
        this.position = 0;
        output.fill(0, i);
        this.report("drained");
        break;
      }
      output[i] = current;
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(output);
    return true;
  }
}

registerProcessor("playback-processor", PlaybackProcessor);
