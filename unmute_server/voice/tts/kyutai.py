"""Text-to-speech through Kyutai's TTS server (moshi-server's ``/api/tts_streaming``).

The protocol, as kyutai-labs/unmute speaks it: connect with the voice and the output format in
the query (``?format=PcmMessagePack&voice=...&cfg_alpha=1.5``, each value URL-escaped); the
server answers ``Ready``; the client sends ``{"type": "Text", "text": word}`` word by word as
the answer is written, then ``{"type": "Eos"}``; the server sends ``Text {text, start_s,
stop_s}`` (when each word is spoken, in seconds of the audio stream, ahead of the audio itself)
and ``Audio {pcm}`` (float samples at 24 kHz, our own rate), and closes the connection once the
last word is spoken. ``Error`` is a failure.

One WebSocket per answer. The server's model waits for a few words of look-ahead before it
speaks, so silence before ``Eos`` is not a timeout; after ``Eos`` the idle timeout counts.
Which language the voice speaks is the model's (``tts-1.6b-en_fr``: English and French) and the
voice's; the protocol has no language parameter.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Final
from urllib.parse import quote

import aiohttp

from unmute_server.voice._kyutai_endpoint import Closed, KyutaiEndpoint, Owed
from unmute_server.voice._kyutai_wire import (
    Audio,
    ServerError,
    TextAlignment,
    encode_eos,
    encode_text,
    parse_tts_message,
)
from unmute_server.voice.audio import SAMPLE_RATE, Pcm
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.tts.engine import SpokenAudio, VoiceChoice

#: Where moshi-server serves streaming text-to-speech (unmute's ``TEXT_TO_SPEECH_PATH``).
TTS_PATH: Final = "/api/tts_streaming"
#: Classifier-free guidance, as unmute sends it (models trained with CFG distillation ignore it).
CFG_ALPHA: Final = 1.5


def streaming_query(voice: str) -> str:
    """The query string unmute sends: PCM in MessagePack, the voice, its CFG; values escaped.

    Every character outside letters, digits and ``_.-~`` is escaped, ``/`` included, as
    unmute's ``url_escape`` does, so a voice path such as ``unmute-prod-website/developer-1.mp3``
    reaches the server as one value.
    """
    return f"format=PcmMessagePack&voice={quote(voice, safe='')}&cfg_alpha={CFG_ALPHA:g}"


class KyutaiTextToSpeech:
    """The Kyutai TTS server behind :class:`~unmute_server.voice.tts.engine.TextToSpeech`.

    ``url`` is the server's base (``ws://host:8089``; ``http(s)://`` is accepted and a path
    prefix is kept). ``api_key`` goes in the ``kyutai-api-key`` header. ``connect_timeout``
    bounds opening a connection and getting ``Ready``, and the health probe; ``idle_timeout``
    bounds how long the server may stay silent after ``Eos`` while audio is still owed, and how
    long a send may wait.
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
            service="text-to-speech",
            api_key=api_key,
            connect_timeout=connect_timeout,
            idle_timeout=idle_timeout,
        )

    def __repr__(self) -> str:
        return "KyutaiTextToSpeech()"

    async def start(self, voice: VoiceChoice, language: str) -> KyutaiSynthesis:
        """Open a connection speaking in ``voice.kyutai`` (the character's ``path_on_server``)."""
        if voice.kyutai is None:
            raise VoiceEngineError(
                VoiceErrorCode.UNSUPPORTED,
                "this character has no Kyutai voice: set voice.path_on_server in its file",
            )
        socket = await self._endpoint.connect(
            TTS_PATH, parse_tts_message, streaming_query(voice.kyutai)
        )
        return KyutaiSynthesis(socket, self._endpoint)

    async def probe(self) -> bool:
        """Whether the server's ``/api/build_info`` answers (what unmute's health check reads)."""
        return await self._endpoint.probe()

    async def aclose(self) -> None:
        """Close the pooled HTTP session."""
        await self._endpoint.aclose()


class ChunkTimeline:
    """Which text chunk each sample of the answer belongs to, from the server's word timings.

    The rule: the words of every chunk are numbered in the order they were sent, and the n-th
    ``Text`` alignment the server sends (empty ones skipped) is the n-th word. A chunk begins at
    the ``start_s`` of its first word; a sample belongs to the last chunk begun at or before it.
    Samples before the first aligned chunk belong to chunk 0. A word the server reports beyond
    those sent counts for the last chunk, and a chunk whose start is already behind the audio
    (its timing came late) begins where the audio is, so audio is never taken back from a chunk
    it was already attributed to.
    """

    def __init__(self) -> None:
        self._word_chunks: list[int] = []
        self._aligned_words = 0
        self._starts: deque[tuple[int, int]] = deque()  # (sample, chunk), in order
        self._last_started_chunk = 0
        self._last_start = 0
        self._current_chunk = 0
        self._samples = 0

    def add_chunk(self, chunk_index: int, words: int) -> None:
        """Chunk ``chunk_index`` was sent as ``words`` words."""
        self._word_chunks.extend([chunk_index] * words)

    def align(self, word: TextAlignment) -> None:
        """The server says when the next word is spoken."""
        index = self._aligned_words
        self._aligned_words += 1
        if not self._word_chunks:
            return
        chunk = self._word_chunks[min(index, len(self._word_chunks) - 1)]
        if chunk <= self._last_started_chunk:
            return
        start = max(round(word.start_s * SAMPLE_RATE), self._last_start)
        self._starts.append((start, chunk))
        self._last_started_chunk = chunk
        self._last_start = start

    def split(self, pcm: Pcm) -> list[SpokenAudio]:
        """The next samples of audio, cut where chunks begin."""
        pieces: list[SpokenAudio] = []
        first = self._samples
        begin = 0
        while self._starts and self._starts[0][0] < first + len(pcm):
            start, chunk = self._starts.popleft()
            cut = max(start - first, begin)
            if cut > begin:
                pieces.append(SpokenAudio(pcm[begin:cut], self._current_chunk))
            self._current_chunk = chunk
            begin = cut
        if begin < len(pcm):
            pieces.append(SpokenAudio(pcm[begin:], self._current_chunk))
        self._samples += len(pcm)
        return pieces


class KyutaiSynthesis:
    """One answer on one WebSocket: words out, timed audio in, closed at once on barge-in."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, endpoint: KyutaiEndpoint) -> None:
        self._socket = socket
        self._endpoint = endpoint
        self._loop = asyncio.get_running_loop()
        self._timeline = ChunkTimeline()
        self._owed = Owed()
        self._watchdog = endpoint.watch(socket, self._owed)
        self._chunks_sent = 0
        self._ended = False
        self._closed = False

    async def send_text(self, text: str) -> None:
        """Send the chunk word by word, as unmute does (the model reads words, not sentences)."""
        if self._closed:
            return
        if self._ended:
            raise RuntimeError("send_text after end(): the answer's text is over")
        words = text.split()
        self._timeline.add_chunk(self._chunks_sent, len(words))
        self._chunks_sent += 1
        for word in words:
            await self._endpoint.send(self._socket, encode_text(word), self._watchdog)

    async def end(self) -> None:
        """Send ``Eos``: the server speaks what it has and closes; from now on silence counts."""
        if self._ended or self._closed:
            return
        self._ended = True
        self._owed.hold(self._loop.time())
        await self._endpoint.send(self._socket, encode_eos(), self._watchdog)

    async def audio(self) -> AsyncIterator[SpokenAudio]:
        """The answer's audio with the chunk each piece belongs to (see :class:`ChunkTimeline`)."""
        endpoint = self._endpoint
        try:
            while not self._closed:
                message = await endpoint.receive_owed(
                    self._socket, parse_tts_message, self._watchdog
                )
                if self._closed:
                    return
                if isinstance(message, Audio):
                    for piece in self._timeline.split(message.pcm):
                        yield piece
                        if self._closed:
                            return
                elif isinstance(message, TextAlignment):
                    if message.text:  # the server's empty opening alignment marks nothing
                        self._timeline.align(message)
                elif isinstance(message, ServerError):
                    endpoint.log("synthesis", message.message)
                    raise endpoint.error(VoiceErrorCode.REJECTED, "reported an error")
                elif isinstance(message, Closed):
                    if self._ended:
                        return
                    raise endpoint.closed_error(message.code, "before the answer was spoken")
        finally:
            self._watchdog.stop()
            await endpoint.close_socket(self._socket)

    async def aclose(self) -> None:
        """Close the connection now: the server stops generating, :meth:`audio` yields no more."""
        if self._closed:
            return
        self._closed = True
        self._watchdog.stop()
        await self._endpoint.close_socket(self._socket)
