"""In-process fakes of Kyutai's moshi-server STT and TTS, for tests.

Real aiohttp WebSocket servers on loopback speaking MessagePack as moshi-server does (the
shapes of kyutai-labs/unmute's clients and kyutai-labs/delayed-streams-modeling's scripts), so
the adapters run their real network code against them. What the fake "hears" and "says" is
deterministic and set by the test:

- :class:`FakeKyutaiStt` answers ``Ready``, then a ``Step`` per ``Audio`` frame (``prs`` high in
  silence, low in speech), a ``Word`` and ``EndWord`` of the configured transcript every
  ``frames_per_word`` frames that are not silent, and echoes a ``Marker`` after
  ``marker_delay_frames`` more frames (the model's delay: the client must send audio behind it).
- :class:`FakeKyutaiTts` answers ``Ready`` and an empty alignment (as the real server does),
  then for each ``Text`` word an alignment and a tone whose length depends on the word, in
  1,920-sample ``Audio`` messages after a half-frame lead-in (so chunk boundaries fall inside
  messages), and closes after ``Eos``.

Both check the ``kyutai-api-key`` header (HTTP 401 otherwise), serve ``/api/build_info`` for
probes, record every connection, and can be told to fail (``fail``). Tests wait on the recorded
state with ``wait_until``, never on a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgpack
import numpy as np
from aiohttp import WSMsgType, web
from pytest_aiohttp import AiohttpServer

from unmute_server.voice.audio import SAMPLE_RATE

#: The key both fakes accept by default (the one Kyutai's example configs authorise).
API_KEY = "public_token"
FRAME = 1920
#: Silence before the first word's audio: half a frame, so chunk starts fall mid-message.
TTS_LEAD_SAMPLES = FRAME // 2
# Long enough never to fire on a slow CI machine, short enough that a broken test fails.
WAIT_GUARD_SECONDS = 10.0
#: Bytes that are not MessagePack (0xc1 is the one byte the format never uses).
NOT_MSGPACK = b"\xc1\xc1"

SttFailure = Literal[
    "error_at_start",  # Error instead of Ready
    "stall_at_start",  # accept the socket, never say Ready
    "error",  # Error after `fail_after_frames` frames
    "close",  # close the socket after `fail_after_frames` frames
    "stall",  # after `fail_after_frames` frames, read on but never answer again
    "bad_msgpack",  # after `fail_after_frames` frames, send bytes that are not MessagePack
    "stall_at_marker",  # answer every frame until a Marker, then read on but never answer again
    "stop_reading",  # after `fail_after_frames` frames, stop reading until `resume_reading()`
]
TtsFailure = Literal[
    "error_at_start",
    "stall_at_start",
    "error",  # Error after `fail_after_words` words
    "close",  # close after `fail_after_words` words, before Eos
    "stall",  # after `fail_after_words` words, read on but never answer again
    "bad_msgpack",  # after `fail_after_words` words, send bytes that are not MessagePack
]


def pack(message: dict[str, Any]) -> bytes:
    """A server message as moshi-server writes it (struct maps, float32 where Rust has f32)."""
    return bytes(msgpack.packb(message, use_single_float=True))


def tone(word: str, index: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The fake's speech for ``word``: a sine whose length grows with the word (whole frames)."""
    frames = 1 + len(word) // 3
    t = np.arange(frames * FRAME) / SAMPLE_RATE
    frequency = 220.0 + 20.0 * (index % 10)
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


class _Recorder:
    """The Condition both fakes notify on every change, and a bounded wait on it."""

    def __init__(self) -> None:
        self._changed = asyncio.Condition()

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds; fail after a generous guard."""
        async with asyncio.timeout(WAIT_GUARD_SECONDS), self._changed:
            await self._changed.wait_for(predicate)


def _refuse(request: web.Request, api_key: str | None) -> web.Response | None:
    if api_key is not None and request.headers.get("kyutai-api-key") != api_key:
        return web.Response(status=401, text="bad key")
    return None


def _build_info(healthy: Callable[[], bool]) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        if not healthy():
            return web.Response(status=503)
        return web.json_response({"build_timestamp": "fake", "git_describe": "fake"})

    return handler


# --------------------------------------------------------------------------- speech-to-text


@dataclass(eq=False)
class SttConnection:
    """One client connection as the fake STT saw it."""

    api_key: str | None
    frame_sizes: list[int] = field(default_factory=list)
    markers: list[int] = field(default_factory=list)
    #: Audio frames received after the first marker (the flush's silence).
    frames_after_marker: int = 0
    echoed: list[int] = field(default_factory=list)
    closed: bool = False


@dataclass(eq=False)
class FakeKyutaiStt(_Recorder):
    """The scripted STT server and what it recorded; :func:`start_fake_stt` serves it."""

    transcript: Sequence[str] = ("hello", "kyutai", "world")
    frames_per_word: int = 2
    marker_delay_frames: int = 6
    fail: SttFailure | None = None
    fail_after_frames: int = 0
    api_key: str | None = API_KEY
    healthy: bool = True
    connections: list[SttConnection] = field(default_factory=list)
    base_url: str = ""
    #: Set by :meth:`resume_reading`: a ``stop_reading`` fake reads (and closes) again.
    reading_resumed: bool = False

    def __post_init__(self) -> None:
        _Recorder.__init__(self)

    async def resume_reading(self) -> None:
        """Let a ``stop_reading`` fake read again, so its connection can end."""
        self.reading_resumed = True
        await self.notify()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/asr-streaming", self._handle)
        app.router.add_get("/api/build_info", _build_info(lambda: self.healthy))
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        refused = _refuse(request, self.api_key)
        if refused is not None:
            return refused
        connection = SttConnection(api_key=request.headers.get("kyutai-api-key"))
        self.connections.append(connection)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            await self._converse(ws, connection, request.transport)
        finally:
            connection.closed = True
            await asyncio.shield(self.notify())
        return ws

    async def _converse(
        self,
        ws: web.WebSocketResponse,
        connection: SttConnection,
        transport: asyncio.Transport | None,
    ) -> None:
        if self.fail == "error_at_start":
            await ws.send_bytes(pack({"type": "Error", "message": "no free slot"}))
            await ws.close()
            return
        if self.fail != "stall_at_start":
            await ws.send_bytes(pack({"type": "Ready"}))
        answering = self.fail != "stall_at_start"
        words = iter(self.transcript)
        spoken = 0
        pending: list[list[int]] = []  # [marker id, frames still to come before its echo]
        async for frame in ws:
            if frame.type is not WSMsgType.BINARY:
                continue
            message = msgpack.unpackb(frame.data)
            if message["type"] == "Marker":
                connection.markers.append(message["id"])
                pending.append([message["id"], self.marker_delay_frames])
                if self.fail == "stall_at_marker":
                    answering = False
            elif message["type"] == "Audio":
                pcm = np.asarray(message["pcm"], dtype=np.float32)
                connection.frame_sizes.append(len(pcm))
                if connection.markers:
                    connection.frames_after_marker += 1
                if (
                    self.fail is not None
                    and len(connection.frame_sizes) == self.fail_after_frames + 1
                ):
                    answering = await self._fail(ws, transport)
                    if ws.closed:
                        return
                if not answering:
                    await self.notify()
                    continue
                step = len(connection.frame_sizes) - 1
                silent = float(np.max(np.abs(pcm), initial=0.0)) < 1e-3
                if not silent:
                    spoken += 1
                    word = next(words, None) if spoken % self.frames_per_word == 0 else None
                    if word is not None:
                        start = step * FRAME / SAMPLE_RATE
                        await ws.send_bytes(
                            pack({"type": "Word", "text": word, "start_time": start})
                        )
                        await ws.send_bytes(pack({"type": "EndWord", "stop_time": start + 0.08}))
                pause = 0.95 if silent else 0.05
                await ws.send_bytes(
                    pack({"type": "Step", "step_idx": step, "prs": [pause] * 4, "buffered_pcm": 0})
                )
                for marker in pending:
                    marker[1] -= 1
            if answering:
                for marker in [marker for marker in pending if marker[1] <= 0]:
                    pending.remove(marker)
                    connection.echoed.append(marker[0])
                    await ws.send_bytes(pack({"type": "Marker", "id": marker[0]}))
            await self.notify()

    async def _fail(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> bool:
        """Do the configured failure; whether the fake still answers afterwards."""
        if self.fail == "stall_at_marker":
            return True  # its failure comes with the marker
        if self.fail == "error":
            await ws.send_bytes(pack({"type": "Error", "message": "model failure"}))
            return True
        if self.fail == "close":
            await ws.close()
            return False
        if self.fail == "bad_msgpack":
            await ws.send_bytes(NOT_MSGPACK)
            return True
        if self.fail == "stop_reading":
            # Not one more byte off the socket: the client's sends fill the buffers and block.
            assert transport is not None
            transport.pause_reading()
            try:
                await self.wait_until(lambda: self.reading_resumed)
            finally:
                transport.resume_reading()
            return False
        return False  # stall, stall_at_marker


async def start_fake_stt(aiohttp_server: AiohttpServer, **options: Any) -> FakeKyutaiStt:
    """Serve a new :class:`FakeKyutaiStt` on loopback; ``base_url`` is what the adapter takes."""
    fake = FakeKyutaiStt(**options)
    server = await aiohttp_server(fake.app())
    fake.base_url = str(server.make_url("")).replace("http://", "ws://").rstrip("/")
    return fake


# --------------------------------------------------------------------------- text-to-speech


@dataclass(eq=False)
class TtsConnection:
    """One client connection as the fake TTS saw it."""

    api_key: str | None
    voice: str | None
    #: The query as it came on the wire, still escaped.
    query_string: str
    format: str | None
    words: list[str] = field(default_factory=list)
    eos: bool = False
    samples_sent: int = 0
    closed: bool = False
    #: Whether the fake closed it after Eos (a client close leaves it False).
    finished: bool = False


@dataclass(eq=False)
class FakeKyutaiTts(_Recorder):
    """The scripted TTS server and what it recorded; :func:`start_fake_tts` serves it."""

    #: Seconds between audio messages: 0 answers at once; more keeps an answer in flight.
    frame_delay: float = 0.0
    fail: TtsFailure | None = None
    fail_after_words: int = 0
    api_key: str | None = API_KEY
    healthy: bool = True
    connections: list[TtsConnection] = field(default_factory=list)
    base_url: str = ""

    def __post_init__(self) -> None:
        _Recorder.__init__(self)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/tts_streaming", self._handle)
        app.router.add_get("/api/build_info", _build_info(lambda: self.healthy))
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        refused = _refuse(request, self.api_key)
        if refused is not None:
            return refused
        connection = TtsConnection(
            api_key=request.headers.get("kyutai-api-key"),
            voice=request.query.get("voice"),
            query_string=request.raw_path.partition("?")[2],
            format=request.query.get("format"),
        )
        self.connections.append(connection)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        words: asyncio.Queue[str | None] = asyncio.Queue()
        speaker = asyncio.create_task(self._speak(ws, connection, words))
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.BINARY:
                    continue
                message = msgpack.unpackb(frame.data)
                if message["type"] == "Text":
                    connection.words.append(message["text"])
                    words.put_nowait(message["text"])
                elif message["type"] == "Eos":
                    connection.eos = True
                    words.put_nowait(None)
                await self.notify()
        finally:
            speaker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await speaker
            connection.closed = True
            await asyncio.shield(self.notify())
        return ws

    async def _speak(
        self, ws: web.WebSocketResponse, connection: TtsConnection, words: asyncio.Queue[str | None]
    ) -> None:
        if self.fail == "error_at_start":
            await ws.send_bytes(pack({"type": "Error", "message": "no free slot"}))
            await ws.close()
            return
        if self.fail == "stall_at_start":
            return
        await ws.send_bytes(pack({"type": "Ready"}))
        await ws.send_bytes(pack({"type": "Text", "text": "", "start_s": 0.0, "stop_s": 0.0}))
        audio = np.zeros(TTS_LEAD_SAMPLES, dtype=np.float32)
        position = TTS_LEAD_SAMPLES  # samples of speech produced so far, lead-in included
        index = 0
        while (word := await words.get()) is not None:
            if self.fail is not None and index >= self.fail_after_words:
                await self._fail(ws)
                return
            speech = tone(word, index)
            start = position / SAMPLE_RATE
            stop = (position + len(speech)) / SAMPLE_RATE
            await ws.send_bytes(
                pack({"type": "Text", "text": word, "start_s": start, "stop_s": stop})
            )
            position += len(speech)
            audio = np.concatenate((audio, speech))
            audio = await self._send_frames(ws, connection, audio, whole_frames_only=True)
            index += 1
        await self._send_frames(ws, connection, audio, whole_frames_only=False)
        connection.finished = True
        await ws.close()

    async def _send_frames(
        self,
        ws: web.WebSocketResponse,
        connection: TtsConnection,
        audio: np.ndarray[Any, np.dtype[np.float32]],
        *,
        whole_frames_only: bool,
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        while len(audio) >= FRAME or (audio.size and not whole_frames_only):
            frame, audio = audio[:FRAME], audio[FRAME:]
            if self.frame_delay:
                await asyncio.sleep(self.frame_delay)
            await ws.send_bytes(pack({"type": "Audio", "pcm": frame.tolist()}))
            connection.samples_sent += len(frame)
            await self.notify()
        return audio

    async def _fail(self, ws: web.WebSocketResponse) -> None:
        if self.fail == "error":
            await ws.send_bytes(pack({"type": "Error", "message": "generation failed"}))
        elif self.fail == "close":
            await ws.close()
        elif self.fail == "bad_msgpack":
            await ws.send_bytes(NOT_MSGPACK)
        # stall: say nothing more; the read loop goes on until the client closes


async def start_fake_tts(aiohttp_server: AiohttpServer, **options: Any) -> FakeKyutaiTts:
    """Serve a new :class:`FakeKyutaiTts` on loopback; ``base_url`` is what the adapter takes."""
    fake = FakeKyutaiTts(**options)
    server = await aiohttp_server(fake.app())
    fake.base_url = str(server.make_url("")).replace("http://", "ws://").rstrip("/")
    return fake
