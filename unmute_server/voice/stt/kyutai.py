"""Speech-to-text through Kyutai's STT server (moshi-server's ``/api/asr-streaming``).

The protocol, as kyutai-labs/unmute and kyutai-labs/delayed-streams-modeling speak it: the
client sends MessagePack ``{"type": "Audio", "pcm": [float, ...]}`` frames of 1,920 samples
(80 ms at 24 kHz); the server answers ``Ready`` first, then a ``Step`` per frame it processed
(with the semantic VAD's pause predictions ``prs``), ``Word``/``EndWord`` as it recognises
words, about half a second behind the audio (the model's delay), and ``Error`` when it fails.
To learn that every word of an utterance is out, the client sends a ``Marker``; the server
echoes it once all the audio before it went through the model, which takes more audio behind it
(the model's delay): so :meth:`KyutaiTranscription.finish` sends the marker, then silence.

One WebSocket per utterance: the server keeps per-connection model state, and a fresh
connection is a fresh utterance, as unmute uses it. Audio is sent as it is fed, at the pace
the pipeline feeds it; the server buffers what comes faster than real time (``buffered_pcm``).
Which language the server hears is its model's (``stt-1b-en_fr``: English and French;
``stt-2.6b-en``: English); the protocol has no language parameter, so ``language`` is not sent.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Final

import aiohttp
import numpy as np

from unmute_server.voice._kyutai_endpoint import Closed, KyutaiEndpoint, Owed
from unmute_server.voice._kyutai_wire import (
    FRAME_SAMPLES,
    AudioFrameEncoder,
    Marker,
    ServerError,
    Step,
    Word,
    encode_audio,
    encode_marker,
    parse_stt_message,
)
from unmute_server.voice.audio import SAMPLE_RATE, Pcm
from unmute_server.voice.errors import VoiceErrorCode
from unmute_server.voice.stt.engine import PartialCallback

#: Where moshi-server serves streaming speech-to-text (unmute's ``SPEECH_TO_TEXT_PATH``).
ASR_PATH: Final = "/api/asr-streaming"
FRAME_SECONDS: Final = FRAME_SAMPLES / SAMPLE_RATE
#: Silence sent at once behind the marker: the 1B model's 0.5 s delay and one frame, as unmute
#: flushes. A model with a longer delay (2.6B: 2.5 s) gets more, one frame per frame time.
FLUSH_BURST_FRAMES: Final = 8
#: The most silence a flush sends (4 s, beyond every published model's delay); then the reply
#: has the idle timeout to arrive.
FLUSH_MAX_FRAMES: Final = 50
#: ``Step.prs`` index that predicts the end of the turn (the one kyutai-labs/unmute reads).
PAUSE_PREDICTION_INDEX: Final = 2
#: Steps before the pause prediction means anything (unmute ignores the first 12: ~1 s).
PAUSE_WARMUP_STEPS: Final = 12

_SILENT_FRAME: Final = encode_audio(np.zeros(FRAME_SAMPLES, dtype=np.float32))
_NO_SAMPLES: Final = np.zeros(0, dtype=np.float32)
_marker_ids = itertools.count(1)


class KyutaiSpeechToText:
    """The Kyutai STT server behind :class:`~unmute_server.voice.stt.engine.SpeechToText`.

    ``url`` is the server's base (``ws://host:8090``; ``http(s)://`` is accepted and a path
    prefix is kept, for a server behind a proxy). ``api_key`` goes in the ``kyutai-api-key``
    header (moshi-server's ``authorized_ids``; ``public_token`` in Kyutai's example configs).
    ``connect_timeout`` bounds opening a connection and getting ``Ready``, and the health probe;
    ``idle_timeout`` bounds how long the server may stay silent while it owes an answer (a
    ``Step`` for audio sent, the flush marker's echo), and how long a send may wait.
    """

    name = "kyutai"

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None,
        connect_timeout: float,
        idle_timeout: float,
    ) -> None:
        self._endpoint = KyutaiEndpoint(
            url,
            service="speech-to-text",
            api_key=api_key,
            connect_timeout=connect_timeout,
            idle_timeout=idle_timeout,
        )

    def __repr__(self) -> str:
        return "KyutaiSpeechToText()"

    async def start(self, language: str, on_partial: PartialCallback) -> KyutaiTranscription:
        """Open a connection for one utterance (``language`` is the server model's, not sent)."""
        socket = await self._endpoint.connect(ASR_PATH, parse_stt_message)
        return KyutaiTranscription(socket, self._endpoint, on_partial)

    #: A remote server's probe failures are logged; it gives no reason to show.
    down_reason: str | None = None

    async def warm(self) -> None:
        """Nothing to prepare: connections open per utterance."""

    async def probe(self) -> bool:
        """Whether the server's ``/api/build_info`` answers (what unmute's health check reads)."""
        return await self._endpoint.probe()

    async def aclose(self) -> None:
        """Close the pooled HTTP session."""
        await self._endpoint.aclose()


class KyutaiTranscription:
    """One utterance on one WebSocket: audio out, words in, a flush at the end.

    A reader task takes the server's messages as they come: words grow the hypothesis (reported
    whole through ``on_partial``), steps update :attr:`pause_probability`, and the marker's echo
    ends it. Any failure it meets is raised by the next :meth:`feed` or by :meth:`finish`.
    """

    def __init__(
        self,
        socket: aiohttp.ClientWebSocketResponse,
        endpoint: KyutaiEndpoint,
        on_partial: PartialCallback,
    ) -> None:
        self._socket = socket
        self._endpoint = endpoint
        self._on_partial = on_partial
        self._loop = asyncio.get_running_loop()
        self._words: list[str] = []
        self._pending = _NO_SAMPLES
        self._encoder = AudioFrameEncoder(FRAME_SAMPLES)
        self._marker_id = next(_marker_ids)
        self._owed = Owed()
        self._watchdog = endpoint.watch(socket, self._owed)
        self._steps = 0
        self._pause: float | None = None
        self._final: str | None = None
        self._closed = False
        self._reader = asyncio.create_task(self._read(), name="kyutai-stt-reader")

    @property
    def text(self) -> str:
        """The hypothesis so far: the recognised words, space-separated."""
        return " ".join(self._words)

    @property
    def pause_probability(self) -> float | None:
        """The semantic VAD's latest estimate (0 to 1) that the person has finished their turn.

        It is ``prs[2]`` of the server's latest ``Step``, the horizon kyutai-labs/unmute uses as
        its turn-end signal (it waits for the value to rise, smoothed, past a threshold, rather
        than for a fixed silence). ``None`` until the model has seen about a second of audio
        (its first predictions are noise, unmute skips 12 steps) or when the server's model has
        no pause predictor.
        """
        return self._pause

    async def feed(self, pcm: Pcm) -> None:
        """Send ``pcm`` in whole 1,920-sample frames; a partial frame waits for the next feed."""
        self._raise_if_unusable()
        pcm = pcm.astype(np.float32, copy=False)
        # The usual feed is whole frames with nothing waiting: then no joined copy is needed.
        samples = np.concatenate((self._pending, pcm)) if len(self._pending) else pcm
        whole = len(samples) - len(samples) % FRAME_SAMPLES
        for start in range(0, whole, FRAME_SAMPLES):
            await self._send(self._encoder.encode(samples[start : start + FRAME_SAMPLES]))
            self._raise_if_unusable()
        # A copy: what waits must not change if the caller reuses its buffer.
        self._pending = samples[whole:].copy() if whole < len(samples) else _NO_SAMPLES

    async def finish(self) -> str:
        """Flush (the last partial frame padded, a ``Marker``, silence) and return the text.

        Returns once the server echoed the marker. Bounded: at most :data:`FLUSH_MAX_FRAMES` of
        silence, then the idle timeout for the echo. Closes the connection either way.
        """
        if self._final is not None:
            return self._final
        try:
            self._raise_if_unusable()
            if len(self._pending):
                tail = np.zeros(FRAME_SAMPLES, dtype=np.float32)
                tail[: len(self._pending)] = self._pending
                self._pending = tail[:0]
                await self._send(self._encoder.encode(tail))
            self._owed.hold(self._loop.time())
            await self._endpoint.send(self._socket, encode_marker(self._marker_id), self._watchdog)
            await self._send_flush_silence()
            await self._reader
            self._final = self.text
            return self._final
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and close the connection at once. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._reader.cancel()
        await asyncio.wait({self._reader})
        if not self._reader.cancelled():
            self._reader.exception()  # retrieved here: finish or feed already raised it
        self._watchdog.stop()
        await self._endpoint.close_socket(self._socket)

    # ----------------------------------------------------------------------- internals

    def _raise_if_unusable(self) -> None:
        if self._closed:
            raise self._endpoint.error(VoiceErrorCode.UNAVAILABLE, "transcription is closed")
        if self._reader.done():
            error = self._reader.exception()
            if error is not None:
                raise error
            raise self._endpoint.error(
                VoiceErrorCode.BAD_RESPONSE, "echoed a marker it was never sent"
            )

    async def _send(self, frame: bytes) -> None:
        if self._owed.since is None:  # the clock already runs otherwise
            self._owed.sent(self._loop.time())
        await self._endpoint.send(self._socket, frame, self._watchdog)

    async def _send_flush_silence(self) -> None:
        for sent in range(FLUSH_MAX_FRAMES):
            if self._reader.done():
                return
            if sent >= FLUSH_BURST_FRAMES:
                # Past the burst, real-time pace: a server with a longer delay needs the audio,
                # not a flood of it; wake early when the echo comes.
                await asyncio.wait({self._reader}, timeout=FRAME_SECONDS)
                if self._reader.done():
                    return
            await self._endpoint.send(self._socket, _SILENT_FRAME, self._watchdog)

    async def _read(self) -> None:
        """Take messages until the marker's echo; raise VoiceEngineError on any failure."""
        endpoint = self._endpoint
        while True:
            message = await endpoint.receive_owed(self._socket, parse_stt_message, self._watchdog)
            if isinstance(message, Word):
                self._words.append(message.text)
                self._on_partial(self.text)
            elif isinstance(message, Step):
                self._steps += 1
                if self._steps > PAUSE_WARMUP_STEPS and len(message.prs) > PAUSE_PREDICTION_INDEX:
                    self._pause = message.prs[PAUSE_PREDICTION_INDEX]
            elif isinstance(message, Marker):
                if message.id == self._marker_id:
                    return
            elif isinstance(message, ServerError):
                endpoint.log("transcription", message.message)
                raise endpoint.error(VoiceErrorCode.REJECTED, "reported an error")
            elif isinstance(message, Closed):
                raise endpoint.closed_error(message.code, "before the transcript was complete")
            # Ready (again), EndWord and messages of newer servers change nothing here.
