"""An in-process OpenAI-compatible audio server for tests.

It answers what the OpenAI-compatible voice engines call, over real HTTP on loopback, so the code
under test runs its real client (the `openai` SDK):

- `POST /v1/audio/transcriptions`: multipart, as the SDK uploads it. The WAV is opened with the
  `wave` module; anything but 24 kHz mono 16-bit is refused with 400. Answers `{"text": ...}`.
- `POST /v1/audio/speech`: JSON. Streams PCM16 of a deterministic tone (:func:`speech_pcm16`)
  whose length depends on the input text, in several writes of an odd size, so a client read may
  end half-way through a sample.
- `GET /v1/models`: a one-model list.

Each request is recorded (what was asked, whether it completed, whether its client went away
before the answer was complete), and each endpoint is scripted per request with `enqueue_*`;
requests beyond the queue get the endpoint's default. It lives beside `fake_llm.py` rather than in
it because its endpoints and records share nothing with chat completions but the scripted
failures, whose reply types (`StatusReply`, `SilentReply`) and wait guard it reuses.
"""

from __future__ import annotations

import asyncio
import io
import wave
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from tests.fake_llm import WAIT_GUARD_SECONDS, SilentReply, StatusReply

SAMPLE_RATE = 24_000
#: How long the fake's speech lasts per character of input text.
SECONDS_PER_CHARACTER = 0.01
TONE_HZ = 440.0
TONE_AMPLITUDE = 0.25


def speech_pcm16(text: str) -> bytes:
    """The audio the fake speaks for ``text``: a tone of ``len(text) * 10 ms`` as PCM16 LE."""
    count = round(len(text) * SECONDS_PER_CHARACTER * SAMPLE_RATE)
    times = np.arange(count) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * TONE_HZ * times) * TONE_AMPLITUDE * 32767
    samples: bytes = np.rint(tone).astype("<i2").tobytes()
    return samples


@dataclass(frozen=True, slots=True)
class Transcript:
    """A 200 transcription answer ``{"text": text}``, after ``delay`` seconds."""

    text: str = "hello there"
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class RawBody:
    """A 200 answer whose body is exactly ``body`` (for answers the client cannot read)."""

    body: bytes
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class SpeechAudio:
    """A 200 stream of :func:`speech_pcm16` for the request's input.

    ``gate``, when given, holds the body after the headers until the test sets it (to see two
    requests in flight together). ``then`` says how the stream ends: ``end`` cleanly; ``close``
    drops the connection after half the audio; ``stall`` goes silent forever after half.
    """

    then: Literal["end", "close", "stall"] = "end"
    gate: asyncio.Event | None = None
    write_size: int = 1001
    write_delay: float = 0.001


@dataclass(frozen=True, slots=True)
class ModelList:
    """A 200 ``GET /v1/models`` answer listing ``model``."""

    model: str = "fake-audio-model"


TranscriptionReply = Transcript | RawBody | StatusReply | SilentReply
SpeechReply = SpeechAudio | RawBody | StatusReply | SilentReply
ModelsReply = ModelList | StatusReply | SilentReply


@dataclass(slots=True)
class RecordedTranscription:
    """One transcription request as the fake saw it; the WAV's format when it could be read."""

    fields: Mapping[str, str]
    headers: Mapping[str, str]
    filename: str | None = None
    sample_rate: int = 0
    channels: int = 0
    sample_width: int = 0
    frames: bytes = b""
    wav_error: str | None = None
    completed: bool = False
    disconnected: bool = False

    @property
    def model(self) -> str | None:
        """The ``model`` form field."""
        return self.fields.get("model")

    @property
    def language(self) -> str | None:
        """The ``language`` form field, if one was sent."""
        return self.fields.get("language")

    @property
    def duration(self) -> float:
        """Seconds of audio in the uploaded WAV."""
        frame_size = self.channels * self.sample_width
        if not frame_size or not self.sample_rate:
            return 0.0
        return len(self.frames) / frame_size / self.sample_rate

    @property
    def samples(self) -> np.ndarray[Any, np.dtype[np.int16]]:
        """The uploaded 16-bit samples."""
        return np.frombuffer(self.frames, dtype="<i2")


@dataclass(slots=True)
class RecordedSpeech:
    """One speech request as the fake saw it."""

    body: dict[str, Any]
    headers: Mapping[str, str]
    in_flight_at_arrival: int = 0
    completed: bool = False
    disconnected: bool = False
    closed_by_server: bool = False

    @property
    def model(self) -> object:
        """The ``model`` the client asked for."""
        return self.body.get("model")

    @property
    def voice(self) -> object:
        """The ``voice`` the client asked for."""
        return self.body.get("voice")

    @property
    def input(self) -> str:
        """The text to speak."""
        return str(self.body.get("input", ""))


@dataclass(eq=False)
class FakeOpenAIAudio:
    """The scripted server and what it recorded; `start_fake_openai_audio` serves it on loopback."""

    transcription_default: TranscriptionReply = field(default_factory=Transcript)
    speech_default: SpeechReply = field(default_factory=SpeechAudio)
    models_default: ModelsReply = field(default_factory=ModelList)
    transcriptions: list[RecordedTranscription] = field(default_factory=list)
    speeches: list[RecordedSpeech] = field(default_factory=list)
    models_requests: list[Mapping[str, str]] = field(default_factory=list)
    base_url: str = ""
    _transcription_queue: deque[TranscriptionReply] = field(default_factory=deque)
    _speech_queue: deque[SpeechReply] = field(default_factory=deque)
    _models_queue: deque[ModelsReply] = field(default_factory=deque)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def enqueue_transcriptions(self, *replies: TranscriptionReply) -> None:
        """Answer the next transcription requests with ``replies``, in order."""
        self._transcription_queue.extend(replies)

    def enqueue_speech(self, *replies: SpeechReply) -> None:
        """Answer the next speech requests with ``replies``, in order."""
        self._speech_queue.extend(replies)

    def enqueue_models(self, *replies: ModelsReply) -> None:
        """Answer the next model-list requests with ``replies``, in order."""
        self._models_queue.extend(replies)

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds for the recorded state; fail after a generous guard."""
        async with asyncio.timeout(WAIT_GUARD_SECONDS), self._changed:
            await self._changed.wait_for(predicate)

    def app(self) -> web.Application:
        """The aiohttp application serving the three endpoints."""
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        app.router.add_post("/v1/audio/speech", self._speak)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        record = RecordedTranscription(fields=fields, headers=dict(request.headers))
        upload = form.get("file")
        if isinstance(upload, web.FileField):
            record.filename = upload.filename
            _read_wav(upload.file.read(), record)
        else:
            record.wav_error = "no file field"
        self.transcriptions.append(record)
        await self._notify()
        reply = (
            self._transcription_queue.popleft()
            if self._transcription_queue
            else self.transcription_default
        )
        try:
            if record.wav_error is not None:
                response = _error(400, f"unreadable audio: {record.wav_error}")
            elif isinstance(reply, Transcript):
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                response = web.json_response({"text": reply.text})
            else:
                response = await _common_reply(reply)
            record.completed = True
            return response
        except (asyncio.CancelledError, ConnectionError):
            record.disconnected = True
            raise
        finally:
            await asyncio.shield(self._notify())

    async def _speak(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        in_flight = sum(1 for r in self.speeches if not (r.completed or r.disconnected))
        record = RecordedSpeech(
            body=body, headers=dict(request.headers), in_flight_at_arrival=in_flight + 1
        )
        self.speeches.append(record)
        await self._notify()
        reply = self._speech_queue.popleft() if self._speech_queue else self.speech_default
        try:
            if isinstance(reply, SpeechAudio):
                response = await self._stream_speech(request, record, reply)
            else:
                response = await _common_reply(reply)
            record.completed = True
            return response
        except (asyncio.CancelledError, ConnectionError):
            # aiohttp's test server cancels the handler when its client disconnects; a write to a
            # closed connection raises ConnectionResetError. Either way the client went away,
            # unless the fake itself dropped the connection (`then="close"`).
            record.disconnected = not record.closed_by_server
            raise
        finally:
            await asyncio.shield(self._notify())

    async def _stream_speech(
        self, request: web.Request, record: RecordedSpeech, reply: SpeechAudio
    ) -> web.StreamResponse:
        if body_error := _speech_body_error(record.body):
            return _error(400, body_error)
        audio = speech_pcm16(record.input)
        response = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        if reply.gate is not None:
            await reply.gate.wait()
        end = len(audio) if reply.then == "end" else len(audio) // 2
        for start in range(0, end, reply.write_size):
            await response.write(audio[start : min(start + reply.write_size, end)])
            if reply.write_delay:
                await asyncio.sleep(reply.write_delay)
        if reply.then == "stall":
            await asyncio.Event().wait()
        if reply.then == "close":
            assert request.transport is not None
            record.closed_by_server = True
            request.transport.abort()
            await asyncio.Event().wait()  # aiohttp cancels this handler once the loss is seen
        await response.write_eof()
        return response

    async def _models(self, request: web.Request) -> web.StreamResponse:
        self.models_requests.append(dict(request.headers))
        await self._notify()
        reply = self._models_queue.popleft() if self._models_queue else self.models_default
        if isinstance(reply, ModelList):
            model = {"id": reply.model, "object": "model", "created": 0, "owned_by": "fake"}
            return web.json_response({"object": "list", "data": [model]})
        return await _common_reply(reply)


def _read_wav(data: bytes, record: RecordedTranscription) -> None:
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            record.sample_rate = wav.getframerate()
            record.channels = wav.getnchannels()
            record.sample_width = wav.getsampwidth()
            record.frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as err:
        record.wav_error = str(err) or type(err).__name__
        return
    if (record.sample_rate, record.channels, record.sample_width) != (SAMPLE_RATE, 1, 2):
        record.wav_error = (
            f"expected 24000 Hz mono 16-bit, got {record.sample_rate} Hz, "
            f"{record.channels} channel(s), {8 * record.sample_width}-bit"
        )


def _speech_body_error(body: Mapping[str, Any]) -> str | None:
    for name in ("model", "voice", "input"):
        if not isinstance(body.get(name), str) or not body[name]:
            return f"{name} must be a non-empty string"
    if body.get("response_format") != "pcm":
        return "this fake speaks response_format=pcm only"
    return None


def _error(status: int, message: str) -> web.Response:
    error = {"message": message, "type": "fake_error", "code": None}
    return web.json_response({"error": error}, status=status)


async def _common_reply(reply: RawBody | StatusReply | SilentReply) -> web.Response:
    if isinstance(reply, StatusReply):
        return _error(reply.status, reply.message)
    if isinstance(reply, SilentReply):
        await asyncio.Event().wait()
    assert isinstance(reply, RawBody)
    return web.Response(body=reply.body, headers={"Content-Type": reply.content_type})


async def start_fake_openai_audio(aiohttp_server: AiohttpServer) -> FakeOpenAIAudio:
    """Serve a new `FakeOpenAIAudio` on loopback; its `base_url` is what the engines take."""
    fake = FakeOpenAIAudio()
    server = await aiohttp_server(fake.app())
    fake.base_url = str(server.make_url("/v1"))
    return fake
