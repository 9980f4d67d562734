// The browser's side of the audio: one AudioContext, the microphone through the capture
// worklet, and the character's voice through the playback worklet's jitter buffer.

export class MicrophoneUnavailable extends Error {
  constructor(message) {
    super(message);
    this.name = "MicrophoneUnavailable";
  }
}

/** Why the microphone cannot be used, in words a person can act on. */
function microphoneProblem(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone off: permission was refused. Allow the microphone for this site, or type below.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "Microphone off: no microphone was found. Plug one in, or type below.";
    case "NotReadableError":
      return "Microphone off: the microphone is busy in another program. Close it, or type below.";
    default:
      return `Microphone off: ${error && error.message ? error.message : "it could not be opened"}. Type below instead.`;
  }
}

export class AudioLink {
  constructor({ onChunk, onPlayback }) {
    this.onChunk = onChunk; // called with each PCM16 chunk (an ArrayBuffer) of the microphone
    this.onPlayback = onPlayback; // called with the playback worklet's reports
    this.context = null;
    this.player = null;
    this.stream = null;
    this.source = null;
    this.capture = null;
  }

  /** The AudioContext and the player; made on a click, as browsers require. */
  async ready() {
    if (this.context) {
      if (this.context.state === "suspended") await this.context.resume();
      return;
    }
    const context = new AudioContext();
    await context.audioWorklet.addModule("/page/capture-worklet.js");
    await context.audioWorklet.addModule("/page/playback-worklet.js");
    const player = new AudioWorkletNode(context, "playback-processor", { outputChannelCount: [1] });
    player.port.onmessage = (event) => this.onPlayback(event.data);
    player.connect(context.destination);
    this.context = context;
    this.player = player;
    if (context.state === "suspended") await context.resume();
  }

  /** Start sending the microphone; throws MicrophoneUnavailable with the reason. */
  async startMicrophone() {
    await this.ready();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new MicrophoneUnavailable(
        "Microphone off: this browser gives no microphone to this page (it needs https or localhost). Type below instead.",
      );
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (error) {
      throw new MicrophoneUnavailable(microphoneProblem(error));
    }
    this.stream = stream;
    this.source = this.context.createMediaStreamSource(stream);
    this.capture = new AudioWorkletNode(this.context, "capture-processor", { numberOfOutputs: 0 });
    this.capture.port.onmessage = (event) => this.onChunk(event.data);
    this.source.connect(this.capture);
  }

  stopMicrophone() {
    if (this.source) this.source.disconnect();
    if (this.capture) {
      this.capture.port.onmessage = null;
      this.capture.disconnect();
    }
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = this.source = this.capture = null;
  }

  /** Queue the character's audio (PCM16 at 24 kHz) in the jitter buffer. */
  play(pcm) {
    if (this.player) this.player.port.postMessage({ type: "audio", pcm }, [pcm]);
  }

  /** The answer's audio is all here: play what is queued even if under the preroll. */
  complete() {
    if (this.player) this.player.port.postMessage({ type: "complete" });
  }

  /** Stop the character at once (barge-in, stop): drop everything queued. */
  flush() {
    if (this.player) this.player.port.postMessage({ type: "flush" });
  }
}

export function base64FromBytes(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function bytesFromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}
