"""Voice benchmarks (issue 9, "Measured"): the real ``unmute-server serve`` as a subprocess,
its remote peers (fake LLM, fake Kyutai STT and TTS: ``voice_peers``) and its many clients
(``voice_client``) in processes of their own.

- **Latency**, embedded engines and a fake LLM that answers at once: end of speech to the first
  byte of the answer's audio, turn by turn on one session, split into its parts. Times are
  event arrivals at the client; the engines' shares are the server's own histograms
  (``unmute_stt_time_to_final_seconds``, ``unmute_llm_time_to_first_token_seconds``,
  ``unmute_tts_time_to_first_audio_seconds``), scraped after every turn, so the difference of
  their sums is that turn's value. What is left once the silence window and those three are
  taken out is the server's own part.
- **Loop lag** with 4 embedded voice sessions talking at once.
- **Relay**, Kyutai engines (fakes, at real-time pace): server CPU per second of audio per
  session, against decoding the same Ogg Opus with ``sphn`` in this process; and how many
  sessions relay at real-time pace with the answers' audio at most 40 ms late at p99.
- **The embedded engines** on this machine, through their own interfaces: real-time factors
  and the text-to-speech's first audio.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import sphn

from tests.fake_kyutai import tone
from tests.perf.figures import Figure, Target
from tests.perf.servers import (
    LOOP_LAG,
    ServerProcess,
    gunicorn_server,
    histogram_buckets,
    histogram_quantile,
    histogram_sum_count,
    unmute_server,
)
from tests.perf.voice_peers import API_KEY
from tests.server.voice_audio import speak
from tests.voice import speech_fixtures
from unmute_server.voice.audio import SAMPLE_RATE, Pcm, silence
from unmute_server.voice.codec import OPUS_FRAME_SAMPLES, OggOpusEncoder
from unmute_server.voice.turns import FRAME_MS, TurnDetection

PACKS_ROOT = Path(__file__).resolve().parents[2] / "character_packs"
PACK = "default"
#: A character of the bundled pack with a voice on every engine.
CHARACTER = "Nova"
FIXTURE = "hello_coffee"
#: The relay sessions' sentence: short, so a quick run sees whole turns.
RELAY_SENTENCE = "Hello there, how are you today?"
#: Silence after each relay sentence: the VAD's window and the whole answer fit in it.
RELAY_GAP = 3.0
#: What the fake LLM answers, at once; the Kyutai TTS fake speaks it in about 1.6 s.
ANSWER = "Of course, one cup of coffee coming right up."
CHUNK_SECONDS = OPUS_FRAME_SAMPLES / SAMPLE_RATE
#: Lateness of the answers' audio at the client, p99, for a session to count as on time.
LATE_TARGET_MS = 40.0
RUN_TIMEOUT = 600.0
#: Worker processes of the relay ramp under gunicorn: one per core of the 2-core machine the
#: figures are reported for.
RELAY_WORKERS = 2

STT_FINAL = "unmute_stt_time_to_final_seconds"
LLM_FIRST_TOKEN = "unmute_llm_time_to_first_token_seconds"  # noqa: S105 (a metric)
TTS_FIRST_AUDIO = "unmute_tts_time_to_first_audio_seconds"


class VoiceBenchError(RuntimeError):
    """A voice benchmark could not run (as opposed to running and missing a target)."""


@dataclass(frozen=True, slots=True)
class VoiceSizes:
    #: Turns of the latency figure, and whether they speak the committed fixture (5 s) or
    #: the short relay sentence (2 s), always at real-time pace.
    turns: int
    fixture_turns: bool
    #: Seconds of the loop-lag run with 4 embedded sessions.
    lag_seconds: float
    #: Relay: the sessions of the CPU figure, each step's seconds, and the ramp (the first
    #: step that misses the lateness target ends it); a single step is a fixed check.
    relay_seconds: float
    relay_steps: tuple[int, ...]
    engine_runs: int


FULL = VoiceSizes(
    turns=10,
    fixture_turns=True,
    lag_seconds=30.0,
    relay_seconds=12.0,
    relay_steps=(40, 80, 120, 160, 200, 250, 300, 400),
    engine_runs=5,
)
QUICK = VoiceSizes(
    turns=3,
    fixture_turns=False,
    lag_seconds=5.0,
    relay_seconds=5.0,
    relay_steps=(20,),
    engine_runs=1,
)


def voice_figures(workdir: Path, quick: bool, log: Callable[[str], None]) -> list[Figure]:
    sizes = QUICK if quick else FULL
    workdir.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    with VoicePeers() as peers:
        with unmute_server(
            PACKS_ROOT,
            PACK,
            compression=False,
            extra=["--llm-url", peers.urls["llm"], "--llm-model", "fake"],
        ) as server:
            log(f"end of speech to first audio, embedded engines, {sizes.turns} turns")
            figures += latency_figures(server, sizes, workdir)
            log(f"loop lag, 4 embedded sessions talking at once, {sizes.lag_seconds:g} s")
            figures += loop_lag_figures(server, workdir, sizes)
        log("embedded engines' real-time factors")
        figures += asyncio.run(engine_figures(sizes.engine_runs))
        log("relay to Kyutai fakes")
        figures += relay_figures(peers, workdir, sizes, log)
    return figures


# --------------------------------------------------------------------------- peers


class VoicePeers:
    """``python -m tests.perf.voice_peers`` as a context manager: ``urls`` of its servers."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.perf.voice_peers", "--answer", ANSWER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("peers "):
            self.process.kill()
            raise VoiceBenchError(f"the voice peers did not start: {line!r}")
        self.urls: dict[str, str] = json.loads(line.removeprefix("peers "))
        self.report: dict[str, Any] = {}

    def __enter__(self) -> VoicePeers:
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        try:
            self.process.stdin.close()
            for line in self.process.stdout:
                if line.startswith("report "):
                    self.report = json.loads(line.removeprefix("report "))
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


# --------------------------------------------------------------------------- audio


def ogg_chunks(pcm: Pcm) -> list[bytes]:
    """``pcm`` as one Ogg Opus stream, one 80 ms chunk of pages per append (the first with
    the header pages), as kyutai-labs/unmute's frontend cuts it."""
    encoder = OggOpusEncoder()
    whole = len(pcm) - len(pcm) % OPUS_FRAME_SAMPLES
    return [
        encoder.encode(pcm[start : start + OPUS_FRAME_SAMPLES])
        for start in range(0, whole, OPUS_FRAME_SAMPLES)
    ]


def conversation(speech: Pcm, gap: float, seconds: float) -> Pcm:
    """``speech`` then ``gap`` seconds of silence, again and again, for ``seconds``."""
    cycle = np.concatenate((speech, silence(gap)))
    repeats = math.ceil(seconds * SAMPLE_RATE / len(cycle)) + 1
    return np.tile(cycle, repeats)


def write_stream(path: Path, chunks: list[bytes]) -> None:
    """The client's stream file: every chunk at the moment its audio ends (real time)."""
    document = {
        "format": "ogg_opus",
        "chunks": [
            [(number + 1) * CHUNK_SECONDS, base64.b64encode(chunk).decode("ascii")]
            for number, chunk in enumerate(chunks)
        ],
    }
    path.write_text(json.dumps(document), encoding="utf-8")


def sphn_encode_cpu_per_second(pcm: Pcm, repeats: int = 3) -> float:
    """CPU seconds ``sphn`` takes to encode ``pcm`` in 80 ms frames, per second of audio."""
    best = math.inf
    for _ in range(repeats):
        started = time.process_time()
        writer = sphn.OpusStreamWriter(SAMPLE_RATE)
        for start in range(0, len(pcm) - OPUS_FRAME_SAMPLES + 1, OPUS_FRAME_SAMPLES):
            writer.append_pcm(pcm[start : start + OPUS_FRAME_SAMPLES])
        best = min(best, (time.process_time() - started) / (len(pcm) / SAMPLE_RATE))
    return best


def sphn_decode_cpu_per_second(chunks: list[bytes], repeats: int = 3) -> float:
    """CPU seconds ``sphn`` takes to decode ``chunks`` (appended one by one, as the server
    gets them), per second of audio, best of ``repeats``."""
    best = math.inf
    for _ in range(repeats):
        started = time.process_time()
        reader = sphn.OpusStreamReader(SAMPLE_RATE)
        samples = 0
        for chunk in chunks:
            samples += len(reader.append_bytes(chunk))
        spent = time.process_time() - started
        best = min(best, spent / (samples / SAMPLE_RATE))
    return best


# --------------------------------------------------------------------------- client runs


@dataclass(frozen=True, slots=True)
class ServerSample:
    at: float
    cpu_seconds: float
    loop_lag: dict[float, float]


#: One step of a relay ramp: its sessions, the client's report, the server's samples.
RelayStep = tuple[int, dict[str, Any], dict[str, ServerSample]]


def run_clients(
    server: ServerProcess,
    stream: Path,
    sessions: int,
    seconds: float,
    *,
    stagger: float,
) -> tuple[dict[str, Any], dict[str, ServerSample]]:
    """Run ``voice_client`` to the end: its report, and the server sampled at each phase."""
    argv = [
        sys.executable,
        "-m",
        "tests.perf.voice_client",
        *("--url", server.ws_url, "--sessions", str(sessions)),
        *("--seconds", f"{seconds:g}", "--stream", str(stream)),
        *("--voice", CHARACTER, "--stagger", f"{stagger:g}"),
    ]
    samples: dict[str, ServerSample] = {}
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, text=True)
        watchdog = threading.Timer(RUN_TIMEOUT, process.kill)
        watchdog.start()
        report_line = ""
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("phase "):
                    lag = histogram_buckets(server.metrics_text(), LOOP_LAG)
                    samples[line.split()[1]] = ServerSample(
                        time.perf_counter(), server.cpu_seconds(), lag
                    )
                elif line.startswith("{"):
                    report_line = line
            process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        if process.returncode != 0 or not report_line or set(samples) != {"measure", "end"}:
            errors.seek(0)
            raise VoiceBenchError(
                f"voice_client exited with {process.returncode}:\n{errors.read()[-3000:]}"
            )
    report: dict[str, Any] = json.loads(report_line)
    return report, samples


def lag_p99_ms(samples: dict[str, ServerSample]) -> float:
    value, _count = histogram_quantile(samples["measure"].loop_lag, samples["end"].loop_lag, 0.99)
    return value * 1000


def failures(report: dict[str, Any]) -> int:
    """Errors and failed connections (a ``warning`` is not a failure)."""
    return int(sum(report["errors"].values())) + int(report["connect_failed"])


# --------------------------------------------------------------------------- latency


@dataclass(frozen=True, slots=True)
class TurnTiming:
    """One turn's parts, in seconds (see the module docstring)."""

    total: float
    silence_window: float
    vad: float
    final: float
    llm: float
    tts: float
    stt_engine: float
    llm_engine: float
    tts_engine: float

    @property
    def own(self) -> float:
        """Everything but the silence window and the engines' (and fake LLM's) own time."""
        return (
            self.total - self.silence_window - self.stt_engine - self.llm_engine - self.tts_engine
        )


class LatencyClient:
    """One session on the embedded server: streams the turns, times the events, and scrapes
    the engine histograms after each answer."""

    HISTOGRAMS = (
        (STT_FINAL, {"engine": "embedded"}),
        (LLM_FIRST_TOKEN, None),
        (TTS_FIRST_AUDIO, {"engine": "embedded"}),
    )

    def __init__(self, server: ServerProcess, sizes: VoiceSizes, speech: Pcm) -> None:
        self.server = server
        self.turns = sizes.turns
        # ``speech`` ends in half a second of silence; ANSWER_ROOM_SECONDS more let the final
        # transcript and the answer finish before the next turn starts (so no answer is
        # interrupted: barge-in is detected at once, even while the engine still works).
        self.cycle_seconds = len(speech) / SAMPLE_RATE + ANSWER_ROOM_SECONDS
        audio = conversation(speech, ANSWER_ROOM_SECONDS, self.cycle_seconds * sizes.turns)
        self.chunks = ogg_chunks(audio)
        self.sent_at: list[float] = []
        #: ``warning`` events (an engine slower than real time on a busy machine): the turns
        #: are measured all the same, and the count goes into the figure's note.
        self.warnings: list[str] = []

    async def run(self) -> list[TurnTiming]:
        async with aiohttp.ClientSession() as http, http.ws_connect(self.server.ws_url) as ws:
            await ws.send_str(
                json.dumps({"type": "session.update", "session": {"voice": CHARACTER}})
            )
            await ws.receive(timeout=30)
            before = await self._scrape(http)
            sender = asyncio.create_task(self._send(ws))
            try:
                async with asyncio.timeout(self.cycle_seconds * self.turns * 3 + 60):
                    return await self._receive(ws, http, before)
            finally:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)

    async def _scrape(self, http: aiohttp.ClientSession) -> list[tuple[float, float]]:
        async with http.get(f"{self.server.http_url}/metrics") as response:
            text = await response.text()
        return [histogram_sum_count(text, name, labels) for name, labels in self.HISTOGRAMS]

    async def _send(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for number, chunk in enumerate(self.chunks):
            wait = started + (number + 1) * CHUNK_SECONDS - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.sent_at.append(loop.time())
            audio = base64.b64encode(chunk).decode("ascii")
            await ws.send_str(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))

    def _sent_with(self, audio_seconds: float) -> float:
        """When the chunk holding the sample at ``audio_seconds`` was sent."""
        number = max(0, math.ceil(audio_seconds / CHUNK_SECONDS - 1e-9) - 1)
        if number >= len(self.sent_at):
            raise VoiceBenchError("the server reported audio the client has not sent yet")
        return self.sent_at[number]

    async def _receive(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        http: aiohttp.ClientSession,
        before: list[tuple[float, float]],
    ) -> list[TurnTiming]:
        loop = asyncio.get_running_loop()
        window = math.ceil(TurnDetection().silence_duration_ms / FRAME_MS) * FRAME_MS / 1000
        turns: list[TurnTiming] = []
        seen: dict[str, float] = {}
        end_of_speech = 0.0
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise VoiceBenchError(f"the server closed the session: {message!r}")
            arrived = loop.time()
            event = json.loads(message.data)
            kind = event["type"]
            if kind == "error" and event["error"].get("type") == "warning":
                self.warnings.append(event["error"]["code"])
                continue
            if kind == "error":
                raise VoiceBenchError(f"the server sent an error: {event['error']}")
            if kind == "input_audio_buffer.speech_stopped":
                seen.clear()
                end_of_speech = event["audio_end_ms"] / 1000
            if kind not in seen:
                seen[kind] = arrived
            if kind != "response.done":
                continue
            if event["response"]["status"] != "completed":
                raise VoiceBenchError(f"a response ended {event['response']['status']}")
            after = await self._scrape(http)
            engines = [
                (a_sum - b_sum) if a_count - b_count == 1 else math.nan
                for (a_sum, a_count), (b_sum, b_count) in zip(after, before, strict=True)
            ]
            before = after
            if any(math.isnan(value) for value in engines):
                raise VoiceBenchError("a turn did not observe each engine histogram once")
            missing = [kind for kind in TURN_EVENTS if kind not in seen]
            if missing:
                raise VoiceBenchError(
                    f"a turn's answer ran into the next turn ({', '.join(missing)} did not "
                    "come before the next speech_stopped): the turns are spaced for a machine "
                    "with a core to spare"
                )
            ended = self._sent_with(end_of_speech)
            window_sent = self._sent_with(end_of_speech + window)
            stopped = seen["input_audio_buffer.speech_stopped"]
            completed = seen["conversation.item.input_audio_transcription.completed"]
            text = seen["response.text.delta"]
            audio = seen["response.audio.delta"]
            turns.append(
                TurnTiming(
                    total=audio - ended,
                    silence_window=window_sent - ended,
                    vad=stopped - window_sent,
                    final=completed - stopped,
                    llm=text - completed,
                    tts=audio - text,
                    stt_engine=engines[0],
                    llm_engine=engines[1],
                    tts_engine=engines[2],
                )
            )
            if len(turns) == self.turns:
                return turns
        raise VoiceBenchError("the session ended before every turn was answered")


#: Silence after each latency turn's speech: the final transcript (about 1 s for the fixture,
#: 2-4 s on a busy machine, where the engine runs behind other work) and the whole answer
#: fit in it before the next turn starts.
ANSWER_ROOM_SECONDS = 4.5

#: The events a turn's timing is read from, each after the turn's ``speech_stopped``.
TURN_EVENTS = (
    "input_audio_buffer.speech_stopped",
    "conversation.item.input_audio_transcription.completed",
    "response.text.delta",
    "response.audio.delta",
)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _first_frame_encode_ms(repeats: int = 20) -> float:
    """Encoding an answer's first 80 ms (a fresh Ogg Opus stream: header pages and a frame)."""
    frame = (0.1 * np.sin(np.arange(OPUS_FRAME_SAMPLES) / 7)).astype(np.float32)
    spent = []
    for _ in range(repeats):
        started = time.perf_counter()
        OggOpusEncoder().encode(frame)
        spent.append(time.perf_counter() - started)
    return statistics.median(spent) * 1000


def latency_speech(sizes: VoiceSizes, workdir: Path) -> tuple[Pcm, str]:
    """What each turn says, with half a second of silence on each side, and its name."""
    if sizes.fixture_turns:
        return speech_fixtures.pcm(FIXTURE), f"the {FIXTURE} fixture"
    sentence = speak(RELAY_SENTENCE, workdir)
    return np.concatenate((silence(0.5), sentence, silence(0.5))), repr(RELAY_SENTENCE)


def latency_figures(server: ServerProcess, sizes: VoiceSizes, workdir: Path) -> list[Figure]:
    speech, said = latency_speech(sizes, workdir)
    client = LatencyClient(server, sizes, speech)
    turns = asyncio.run(client.run())
    codes = ", ".join(sorted(set(client.warnings)))
    warned = f"; {len(client.warnings)} warnings in the run ({codes})" if client.warnings else ""
    ms = 1000.0

    def part(values: list[float]) -> list[float]:
        return [value * ms for value in values]

    def p95_note(values: list[float]) -> str:
        return f"p95 {_p95(values):.1f} ms"

    total = part([t.total for t in turns])
    own = part([t.own for t in turns])
    rows = [
        (
            "  VAD wait: the silence window",
            part([t.silence_window for t in turns]),
            "end of speech until the client has sent the 510 ms that end the turn",
        ),
        ("  VAD wait: decode + VAD, to speech_stopped", part([t.vad for t in turns]), "server"),
        (
            "  final transcript (speech_stopped to .completed)",
            part([t.final for t in turns]),
            "of which the engine",
        ),
        (
            "    of which the engine (unmute_stt_time_to_final_seconds)",
            part([t.stt_engine for t in turns]),
            "pocketsphinx's final pass",
        ),
        ("  LLM first token (.completed to response.text.delta)", part([t.llm for t in turns]), ""),
        (
            "    of which the LLM (unmute_llm_time_to_first_token_seconds)",
            part([t.llm_engine for t in turns]),
            "fake LLM in another process, openai client",
        ),
        (
            "  TTS first audio (text.delta to response.audio.delta)",
            part([t.tts for t in turns]),
            "",
        ),
        (
            "    of which the engine (unmute_tts_time_to_first_audio_seconds)",
            part([t.tts_engine for t in turns]),
            f"espeak-ng, and the first frame's Opus encode ({_first_frame_encode_ms():.2f} ms)",
        ),
    ]
    figures = [
        Figure(
            "end of speech to first answer audio, embedded engines, instant LLM: median",
            "ms",
            total,
            None,
            note=f"{len(turns)} turns of {said} at real-time pace, Ogg Opus both ways{warned}",
        ),
        Figure("  same: p95", "ms", [_p95(total)], None),
    ]
    for name, values, note in rows:
        figures.append(
            Figure(
                name, "ms", values, None, note="; ".join(n for n in (note, p95_note(values)) if n)
            )
        )
    figures += [
        Figure(
            "  server's own part (total - silence window - engines): median",
            "ms",
            own,
            Target(at_most=30),
            note="decode, VAD, events, turn and response plumbing, chunking, encoding" + warned,
        ),
        Figure("  server's own part: p95", "ms", [_p95(own)], Target(at_most=30)),
    ]
    return figures


# --------------------------------------------------------------------------- loop lag


def loop_lag_figures(server: ServerProcess, workdir: Path, sizes: VoiceSizes) -> list[Figure]:
    speech, said = latency_speech(sizes, workdir)
    audio = conversation(speech, 1.5, sizes.lag_seconds + 2)
    stream = workdir / "lag-stream.json"
    write_stream(stream, ogg_chunks(audio))
    report, samples = run_clients(server, stream, 4, sizes.lag_seconds, stagger=0.3)
    answered = report["statuses"].get("completed", 0)
    return [
        Figure(
            "4 embedded voice sessions talking at once: server loop lag p99",
            "ms",
            [lag_p99_ms(samples)],
            Target(at_most=10),
            note=f"{sizes.lag_seconds:g} s of {said} and answers, real time; "
            f"{answered} answers, {failures(report)} errors",
        ),
    ]


# --------------------------------------------------------------------------- engines


async def engine_figures(runs: int) -> list[Figure]:
    """The embedded engines through their interfaces, one utterance or answer at a time."""
    from unmute_server.voice.stt.embedded import EmbeddedSpeechToText
    from unmute_server.voice.tts.embedded import EmbeddedTextToSpeech
    from unmute_server.voice.tts.engine import VoiceChoice

    speech = speech_fixtures.pcm(FIXTURE)
    seconds = len(speech) / SAMPLE_RATE
    stt = EmbeddedSpeechToText()
    stt_rtf = []
    try:
        for run in range(runs + 1):  # the first one starts the worker
            started = time.perf_counter()
            transcription = await stt.start("en", lambda _text: None)
            for begin in range(0, len(speech), OPUS_FRAME_SAMPLES):
                await transcription.feed(speech[begin : begin + OPUS_FRAME_SAMPLES])
            await transcription.finish()
            await transcription.aclose()
            if run:
                stt_rtf.append((time.perf_counter() - started) / seconds)
    finally:
        await stt.aclose()
    tts = EmbeddedTextToSpeech()
    voice = VoiceChoice(kyutai=None, embedded="en+m3", openai="alloy")
    first_audio, tts_rtf = [], []
    try:
        for _ in range(max(3, runs)):
            started = time.perf_counter()
            synthesis = await tts.start(voice, "en")
            await synthesis.send_text(ANSWER)
            await synthesis.end()
            samples = 0
            async for spoken in synthesis.audio():
                if not samples:
                    first_audio.append((time.perf_counter() - started) * 1000)
                samples += len(spoken.pcm)
            await synthesis.aclose()
            tts_rtf.append((time.perf_counter() - started) / (samples / SAMPLE_RATE))
    finally:
        await tts.aclose()
    return [
        Figure(
            "embedded speech-to-text: real-time factor",
            "x",
            stt_rtf,
            None,
            note=f"wall seconds per second of audio: the {seconds:.1f} s fixture fed at once, "
            "live pass then final pass (pocketsphinx)",
        ),
        Figure(
            "embedded text-to-speech: real-time factor",
            "x",
            tts_rtf,
            None,
            note=f"wall seconds per second of audio, espeak-ng, {ANSWER!r}",
        ),
        Figure(
            "embedded text-to-speech: first audio",
            "ms",
            first_audio,
            None,
            note="start of the synthesis to its first samples",
        ),
    ]


# --------------------------------------------------------------------------- relay


def relay_figures(
    peers: VoicePeers, workdir: Path, sizes: VoiceSizes, log: Callable[[str], None]
) -> list[Figure]:
    speech = speak(RELAY_SENTENCE, workdir)
    utterance = np.concatenate((silence(0.3), speech))
    # Room after the sentence for the VAD's window and the whole answer before the next.
    audio = conversation(utterance, RELAY_GAP, sizes.relay_seconds + 2)
    # Each session starts somewhere else in the cycle, as people do not all speak at once.
    cycle = len(utterance) / SAMPLE_RATE + RELAY_GAP
    chunks = ogg_chunks(audio)
    stream = workdir / "relay-stream.json"
    write_stream(stream, chunks)
    extra = [
        *("--llm-url", peers.urls["llm"], "--llm-model", "fake"),
        *("--stt", "kyutai", "--stt-url", peers.urls["stt"]),
        *("--tts", "kyutai", "--tts-url", peers.urls["tts"]),
    ]
    keys = {"UNMUTE_STT_API_KEY": API_KEY, "UNMUTE_TTS_API_KEY": API_KEY}
    with unmute_server(PACKS_ROOT, PACK, compression=False, extra=extra, env=keys) as server:
        steps = relay_ramp(server, stream, sizes, cycle, log)
    workers_steps: list[RelayStep] = []
    if len(sizes.relay_steps) > 1:
        # The same ramp with the server on both cores, as docs/operations.md deploys it.
        settings = {
            **keys,
            **{"UNMUTE_LLM_URL": peers.urls["llm"], "UNMUTE_LLM_MODEL": "fake"},
            **{"UNMUTE_STT": "kyutai", "UNMUTE_STT_URL": peers.urls["stt"]},
            **{"UNMUTE_TTS": "kyutai", "UNMUTE_TTS_URL": peers.urls["tts"]},
        }
        log(f"the same with {RELAY_WORKERS} gunicorn workers")
        with gunicorn_server(PACKS_ROOT, PACK, workers=RELAY_WORKERS, env=settings) as server:
            workers_steps = relay_ramp(server, stream, sizes, cycle, log)
    first_sessions, first, first_samples = steps[0]
    audio_in, audio_out = first["audio_in_seconds"], first["audio_out_seconds"]
    # The bare codec work of the same audio: decoding what the sessions sent, and encoding
    # as much answer audio as they received (the fake's tones, 80 ms frames).
    answer = np.concatenate([tone(word, n) for n, word in enumerate(ANSWER.split())])
    decode = sphn_decode_cpu_per_second(chunks)
    encode = sphn_encode_cpu_per_second(answer)
    baseline = decode + encode * audio_out / audio_in if audio_in else math.nan
    per_audio_second = cpu_per_audio_second(first, first_samples)
    figures = [
        Figure(
            f"relay, {first_sessions} sessions: server CPU per second of audio",
            "ms",
            [per_audio_second * 1000],
            Target(ratio_at_most=2.0),
            "sphn codec",
            [baseline * 1000],
            note=f"server CPU / seconds of audio the sessions sent ({audio_in:.0f} s; "
            f"{audio_out:.0f} s of answers came back); baseline: sphn decoding the same Ogg "
            f"Opus ({decode * 1000:.2f} ms per s) and encoding as much answer audio "
            f"({encode * 1000:.2f} ms per s)",
        ),
    ]
    for sessions, report, samples in steps:
        figures.append(
            Figure(
                f"relay, {sessions} sessions at real-time pace: answer audio lateness p99",
                "ms",
                [report["late_ms"]["p99"]],
                Target(at_most=LATE_TARGET_MS),
                note=f"{report['late_ms']['count']} audio deltas; server CPU "
                f"{cpu_per_audio_second(report, samples) * 1000:.2f} ms per second of audio; "
                f"server loop lag p99 "
                f"{lag_p99_ms(samples):.1f} ms; client send lateness p99 "
                f"{report['send_late_ms']['p99']:.1f} ms; answers {report['statuses']}; "
                f"{failures(report)} errors",
            )
        )
    if len(sizes.relay_steps) > 1:
        figures.append(
            on_time_figure("relay: concurrent sessions with answer audio p99 on time", steps)
        )
        figures.append(
            on_time_figure(
                f"relay, {RELAY_WORKERS} gunicorn workers: concurrent sessions on time",
                workers_steps,
            )
        )
    return figures


def relay_ramp(
    server: ServerProcess,
    stream: Path,
    sizes: VoiceSizes,
    cycle: float,
    log: Callable[[str], None],
) -> list[RelayStep]:
    """Relay each step's sessions in turn, up to the first step that is not on time."""
    steps: list[RelayStep] = []
    for sessions in sizes.relay_steps:
        log(f"{sessions} sessions relaying for {sizes.relay_seconds:g} s")
        report, samples = run_clients(server, stream, sessions, sizes.relay_seconds, stagger=cycle)
        steps.append((sessions, report, samples))
        log(
            f"  late p99 {report['late_ms']['p99']:.1f} ms, client send p99 "
            f"{report['send_late_ms']['p99']:.1f} ms, loop lag p99 {lag_p99_ms(samples):.1f} "
            f"ms, {failures(report)} errors, {report['statuses']}"
        )
        if not _on_time(report, sessions):
            break
    return steps


def cpu_per_audio_second(report: dict[str, Any], samples: dict[str, ServerSample]) -> float:
    """Server CPU seconds per second of audio the sessions sent, over the measured phase."""
    cpu = samples["end"].cpu_seconds - samples["measure"].cpu_seconds
    audio_in = report["audio_in_seconds"]
    return cpu / audio_in if audio_in else math.nan


def on_time_figure(name: str, steps: list[RelayStep]) -> Figure:
    on_time = [n for n, report, _ in steps if _on_time(report, n)]
    return Figure(
        name,
        "sessions",
        [float(max(on_time, default=0))],
        Target(at_least=200),
        note=f"ramp {', '.join(str(n) for n, _, _ in steps)}: the largest step with "
        f"p99 <= {LATE_TARGET_MS:g} ms late, no errors, every session answered",
    )


def _on_time(report: dict[str, Any], sessions: int) -> bool:
    answered = report["statuses"].get("completed", 0)
    return (
        report["late_ms"]["p99"] <= LATE_TARGET_MS
        and failures(report) == 0
        and answered >= sessions
    )
