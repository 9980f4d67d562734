// The page's controller: wires the session, the audio and the author view to the DOM.
import { AudioLink, MicrophoneUnavailable, base64FromBytes, bytesFromBase64 } from "./audio.js";
import { showDiagnostics, showPrompt } from "./author.js";
import { byId, element, getJson, say } from "./dom.js";
import { RealtimeSession } from "./realtime.js";

const session = new RealtimeSession();
const state = {
  pack: null,
  voice: null,
  talking: false,
  reloadEventId: null,
  userItems: new Map(), // item_id -> the transcript line of that user turn
  answers: new Map(), // response_id -> the transcript line of that answer
  speechStoppedAt: null, // when the last turn ended, waiting for its first audio
  latencies: [],
  chunksSent: 0,
  audioDeltas: 0,
  audible: false, // the character's voice is playing or queued
  lastSpoken: null, // response_id of the last answer that had audio
  finished: new Set(), // response_ids whose response.done has come
  cut: new Set(), // response_ids interrupted here: their late audio is not played
  interruptions: 0,
};

const audio = new AudioLink({
  onChunk(pcm) {
    if (!state.talking) return;
    session.send({ type: "input_audio_buffer.append", audio: base64FromBytes(pcm) });
    state.chunksSent += 1;
    updateStats();
  },
  onPlayback(report) {
    const stats = byId("audio-stats");
    stats.dataset.chunksReceived = report.chunksReceived;
    stats.dataset.samplesPlayed = report.samplesPlayed;
    stats.dataset.flushes = report.flushes;
    stats.dataset.samplesDropped = report.samplesDropped;
    stats.dataset.queued = report.queued;
    state.audible = report.playing || report.queued > 0;
    if (report.type === "started" && state.speechStoppedAt !== null) {
      const latency = Math.round(performance.now() - state.speechStoppedAt);
      state.speechStoppedAt = null;
      state.latencies.push(latency);
      const turns = state.latencies.map((ms, i) => `turn ${i + 1}: ${ms} ms`);
      byId("latency").textContent = turns.slice(-5).join(", ");
    }
    updateStats();
  },
});

function updateStats() {
  const stats = byId("audio-stats");
  stats.dataset.chunksSent = state.chunksSent;
  stats.dataset.audioDeltas = state.audioDeltas;
  stats.dataset.interruptions = state.interruptions;
  stats.textContent =
    `sent ${state.chunksSent} chunks; received ${state.audioDeltas} audio deltas; ` +
    `${stats.dataset.chunksReceived || 0} reached the player, ${stats.dataset.samplesPlayed || 0} samples played`;
}

// --------------------------------------------------------------------- characters

async function showCharacters(pack, characters) {
  state.pack = pack;
  byId("session-pack").textContent = pack;
  let details = new Map();
  try {
    const report = await getJson(`/v1/packs/${encodeURIComponent(pack)}`);
    details = new Map(report.characters.map((c) => [c.name, c]));
  } catch {
    // The list is still usable without the voice descriptions and languages.
  }
  const list = byId("character-list");
  list.replaceChildren(
    ...characters.map((character, index) => {
      const more = details.get(character.name) || {};
      const id = `character-${index}`;
      const input = element("input", { attributes: { type: "radio", name: "character", id, value: character.name } });
      input.checked = character.name === state.voice;
      input.addEventListener("change", () => chooseCharacter(character.name));
      const facts = [character.comment, more.voice && `voice: ${more.voice}`, more.language && `language: ${more.language}`]
        .filter(Boolean)
        .join(" · ");
      return element("li", {}, [
        element("label", { attributes: { for: id } }, [
          input,
          element("span", {}, [
            element("span", { className: "character-name", text: character.name }),
            character.good ? null : element("span", { className: "not-ready", text: "not ready" }),
            facts ? element("span", { className: "details", text: facts }) : null,
          ]),
        ]),
      ]);
    }),
  );
  byId("talk-button").disabled = !session.open;
  if (!state.voice || !characters.some((c) => c.name === state.voice)) {
    // Ready to talk at once: the first character marked ready (else the first one).
    const first = characters.find((c) => c.good) || characters[0];
    if (first) chooseCharacter(first.name);
  }
}

function chooseCharacter(name) {
  state.voice = name;
  session.send({ type: "session.update", session: { voice: name } });
}

function count(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

// --------------------------------------------------------------------- transcript

function line(speaker, className) {
  const text = element("span", { className });
  const item = element("li", {}, [element("span", { className: "speaker", text: `${speaker}:` }), " ", text]);
  byId("transcript").append(item);
  item.scrollIntoView({ block: "nearest" });
  return text;
}

function userLine(itemId) {
  let text = state.userItems.get(itemId);
  if (!text) {
    text = line("You", "partial");
    state.userItems.set(itemId, text);
  }
  return text;
}

/** Add to an answer's subtitle. A spoken answer streams its text twice (the LLM's text and
 * the transcript of the audio); the transcript, in step with the voice, wins once it starts. */
function addToAnswer(responseId, kind, delta) {
  let answer = state.answers.get(responseId);
  if (!answer) {
    answer = { node: line(state.voice || "Character", "answer"), text: "", transcript: "" };
    state.answers.set(responseId, answer);
  }
  answer[kind] += delta;
  answer.node.textContent = answer.transcript || answer.text;
}

function markInterrupted(responseId) {
  const answer = state.answers.get(responseId);
  if (!answer || answer.interrupted) return;
  answer.interrupted = true;
  answer.node.after(element("span", { className: "interrupted", text: " (interrupted)" }));
}

// --------------------------------------------------------------------- server events

const handlers = {
  "session.updated"(event) {
    state.voice = event.session.voice;
    for (const input of document.querySelectorAll('input[name="character"]')) input.checked = input.value === state.voice;
  },
  "session.characters.listed"(event) {
    showCharacters(event.pack, event.characters);
  },
  "session.characters.reloaded"(event) {
    state.voice = event.voice;
    const kept = event.replaced_voice
      ? `${event.replaced_voice} is not in it, so ${event.voice} replaces them`
      : event.voice
        ? `${event.voice} is kept`
        : "no character chosen";
    say(
      "reload-result",
      `Loaded pack ${event.pack}: ${count(event.loaded_count, "character")}, ${count(event.error_count, "error")}; ${kept}.`,
      { error: event.error_count > 0 },
    );
    showCharacters(event.pack, event.characters);
  },
  "input_audio_buffer.speech_started"(event) {
    // Barge-in: the person speaks, so the character stops at once, even when the server
    // has sent the whole answer already and only this page still holds its audio.
    const answer = state.lastSpoken;
    if (answer !== null && !state.cut.has(answer) && (state.audible || !state.finished.has(answer))) {
      state.cut.add(answer);
      state.interruptions += 1;
      markInterrupted(answer);
    }
    audio.flush();
    updateStats();
    userLine(event.item_id);
  },
  "input_audio_buffer.speech_stopped"() {
    state.speechStoppedAt = performance.now();
  },
  "conversation.item.input_audio_transcription.delta"(event) {
    userLine(event.item_id).textContent += event.delta;
  },
  "conversation.item.input_audio_transcription.completed"(event) {
    const text = userLine(event.item_id);
    text.textContent = event.transcript;
    text.className = "final";
  },
  "response.audio.delta"(event) {
    // Audio of an answer cut by barge-in may still be on its way: it is never played.
    if (state.cut.has(event.response_id)) return;
    state.audioDeltas += 1;
    state.lastSpoken = event.response_id;
    audio.play(bytesFromBase64(event.delta));
    updateStats();
  },
  "response.audio.done"() {
    audio.complete();
  },
  "response.audio_transcript.delta"(event) {
    addToAnswer(event.response_id, "transcript", event.delta);
  },
  "response.text.delta"(event) {
    addToAnswer(event.response_id, "text", event.delta);
  },
  "response.done"(event) {
    state.finished.add(event.response.id);
    if (event.response.status !== "cancelled") return;
    audio.flush();
    markInterrupted(event.response.id);
  },
  error(event) {
    const { code, message, type } = event.error;
    if (type === "warning") return;
    if (state.reloadEventId !== null && event.error.event_id === state.reloadEventId) {
      say("reload-result", `Pack not switched (${code}): ${message}`, { error: true });
      return;
    }
    line("Server", "error").textContent = `${code}: ${message}`;
  },
};

session.addEventListener("server-event", (event) => {
  const handler = handlers[event.detail.type];
  if (handler) handler(event.detail);
});

session.addEventListener("state", (event) => {
  byId("connection-state").textContent = event.detail;
  const open = session.open;
  byId("text-input").disabled = !open;
  byId("text-send").disabled = !open;
  byId("switch-pack").disabled = !open;
  byId("talk-button").disabled = !open;
  if (!open && state.talking) stopTalking();
});

// --------------------------------------------------------------------- controls

async function startTalking() {
  const button = byId("talk-button");
  button.disabled = true;
  session.send({
    type: "session.update",
    session: {
      input_audio_format: "pcm16",
      output_audio_format: "pcm16",
      turn_detection: { type: "server_vad" },
    },
  });
  try {
    state.talking = true;
    await audio.startMicrophone();
    say("mic-status", "Listening: speak to the character, or speak over it to interrupt.");
    button.textContent = "Stop";
    button.setAttribute("aria-pressed", "true");
  } catch (error) {
    state.talking = false;
    const message = error instanceof MicrophoneUnavailable ? error.message : `Microphone off: ${error.message}`;
    say("mic-status", message, { error: true });
    byId("text-input").focus();
  } finally {
    button.disabled = !session.open;
  }
}

function stopTalking() {
  state.talking = false;
  audio.stopMicrophone();
  audio.flush();
  if (session.open) session.send({ type: "input_audio_buffer.clear" });
  const button = byId("talk-button");
  button.textContent = "Start talking";
  button.setAttribute("aria-pressed", "false");
  say("mic-status", "Stopped.");
}

byId("talk-button").addEventListener("click", () => (state.talking ? stopTalking() : startTalking()));

byId("text-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = byId("text-input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  await audio.ready().catch(() => {}); // the answer is spoken too, when the browser allows it
  line("You", "final").textContent = text;
  if (!state.talking) {
    // A session speaks its answers once it names an output format (or sends audio): typed
    // turns are heard in the character's voice too.
    session.send({ type: "session.update", session: { output_audio_format: "pcm16" } });
  }
  session.send({
    type: "conversation.item.create",
    item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
  });
  session.send({ type: "response.create" });
});

byId("switch-pack").addEventListener("click", () => {
  const pack = byId("pack-select").value;
  say("reload-result", `Loading pack ${pack}…`);
  state.reloadEventId = session.send({ type: "session.characters.reload", pack });
});

byId("show-diagnostics").addEventListener("click", () => showDiagnostics(byId("pack-select").value));
byId("show-prompt").addEventListener("click", () => showPrompt());

// --------------------------------------------------------------------- start-up

const HEALTH_OK_SECONDS = 30;
const HEALTH_DOWN_SECONDS = 5;

async function showHealth() {
  let ok = false;
  try {
    const health = await getJson("/v1/health");
    const up = (flag) => (flag ? "up" : "down");
    const llm = health.llm.configured ? `LLM ${health.llm.model}: ${up(health.llm_up)}` : "LLM: not configured";
    say(
      "engine-state",
      `speech-to-text ${health.voice.stt}: ${up(health.stt_up)}; text-to-speech ${health.voice.tts}: ${up(health.tts_up)}; ${llm}`,
      { error: !health.ok },
    );
    ok = health.ok;
  } catch (error) {
    say("engine-state", `unknown (${error.message})`, { error: true });
  }
  // Sooner while something is down: an engine still loading is up a few seconds later.
  setTimeout(showHealth, 1000 * (ok ? HEALTH_OK_SECONDS : HEALTH_DOWN_SECONDS));
}

async function showPacks() {
  try {
    const listing = await getJson("/v1/packs");
    const select = byId("pack-select");
    select.replaceChildren(...listing.packs.map((name) => element("option", { text: name, attributes: { value: name } })));
    select.value = listing.default;
    byId("show-diagnostics").disabled = listing.packs.length === 0;
  } catch (error) {
    say("reload-result", `Packs cannot be listed: ${error.message}`, { error: true });
  }
}

async function start() {
  updateStats();
  showHealth();
  showPacks();
  try {
    await session.connect();
    session.send({ type: "session.characters.list" });
  } catch (error) {
    byId("connection-state").textContent = error.message;
  }
}

start();
