"""Text-to-speech through an OpenAI-compatible ``/audio/speech`` endpoint, streamed as raw PCM.

The hosted OpenAI API, Kokoro-FastAPI and openedai-speech answer it. Each text chunk of an answer
(a sentence or a clause, as the pipeline sends them) is one request asking for
``response_format="pcm"``: 16-bit little-endian mono at 24 kHz, the server's rate, so no
resampling is needed, and audio is passed on as each network read arrives. A server that states
another rate in its content type (openedai-speech's piper voices: ``audio/pcm;rate=22050``) is
refused with ``voice_unsupported`` rather than played at the wrong speed.

Chunks are spoken in order, with a small bounded look-ahead: while chunk *n*'s audio is being
read, the request for chunk *n + 1* is already open, so its first audio is waiting when chunk
*n*'s ends and there is no gap between sentences. A look-ahead request reads at most a few
network reads ahead into a bounded queue and then waits; TCP's flow control holds the server back
from there. The API has no language parameter: the voice carries the language.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, aclosing
from typing import Final, cast

import numpy as np
import openai

from unmute_server.voice._openai_client import (
    FailureReport,
    ModelsProbe,
    check_engine_arguments,
    make_client,
)
from unmute_server.voice.audio import SAMPLE_RATE, Pcm
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.tts.engine import SpokenAudio, VoiceChoice

logger = logging.getLogger(__name__)

#: Requests opened ahead of the chunk being read: enough to hide one request's latency.
DEFAULT_LOOKAHEAD: Final = 1
# Network reads a request may hold before its chunk is read (each at most the HTTP library's
# read size, tens of KiB): the memory bound of one look-ahead request.
_BUFFERED_READS: Final = 8
_SERVER = "text-to-speech server"
_PCM16_SCALE: Final = np.float32(1 / 32768)
# Content types of a 200 answer that cannot be PCM audio.
_NOT_AUDIO: Final = ("application/json", "text/")

SpeechResponse = openai.AsyncAPIResponse[bytes]
#: Opens one streamed speech request for one text chunk.
OpenSpeech = Callable[[str], AbstractAsyncContextManager[SpeechResponse]]


class OpenAITextToSpeech:
    """One per process: a connection pool to one server, shared by every session's answers.

    ``base_url`` is the API base the client appends ``/audio/speech`` to (for example
    ``http://127.0.0.1:8880/v1`` for Kokoro-FastAPI). ``timeout`` bounds the wait for each
    request's first audio and the longest silence between two reads of its audio, and the health
    probe (capped at a few seconds); a long sentence may take as long as it needs to stream.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        model: str,
        timeout: float,
        lookahead: int = DEFAULT_LOOKAHEAD,
    ) -> None:
        check_engine_arguments(model, timeout)
        if lookahead < 0:
            raise ValueError(f"lookahead must be 0 or more requests, got {lookahead!r}")
        self._client = make_client(base_url, api_key, timeout)
        self._model = model
        self._timeout = timeout
        self._lookahead = lookahead
        self._failures = FailureReport(_SERVER, api_key, timeout)
        self._probe = ModelsProbe(self._client, timeout)

    async def start(self, voice: VoiceChoice, language: str) -> OpenAISynthesis:
        """Open one answer spoken in ``voice.openai``; ``language`` is not sent (see the module)."""
        voice_name = voice.openai

        def open_speech(text: str) -> AbstractAsyncContextManager[SpeechResponse]:
            return self._client.audio.speech.with_streaming_response.create(
                model=self._model, voice=voice_name, input=text, response_format="pcm"
            )

        def request(text: str) -> ChunkRequest:
            return ChunkRequest(open_speech, text, self._failures, self._timeout)

        return OpenAISynthesis(request, self._lookahead)

    async def probe(self) -> bool:
        """Whether the server answers ``GET /models`` (see :class:`ModelsProbe`)."""
        return await self._probe()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.close()


class ChunkRequest:
    """One text chunk's streamed request, read by its own task into a bounded queue.

    The queue ends with ``None`` (the audio is complete) or a :class:`VoiceEngineError`, so a
    failure reaches the reader in its place, after the audio that came before it.
    """

    __slots__ = ("_failures", "_queue", "_task", "_timeout")

    def __init__(
        self, open_speech: OpenSpeech, text: str, failures: FailureReport, timeout: float
    ) -> None:
        self._failures = failures
        self._timeout = timeout
        self._queue: asyncio.Queue[bytes | VoiceEngineError | None] = asyncio.Queue(
            maxsize=_BUFFERED_READS
        )
        self._task = asyncio.create_task(self._read(open_speech, text))

    async def reads(self) -> AsyncIterator[bytes]:
        """The response body's reads, as they came off the network (any length, even odd)."""
        while (item := await self._queue.get()) is not None:
            if isinstance(item, VoiceEngineError):
                raise item
            yield item

    def cancel(self) -> None:
        """Stop the request: leaving its ``async with`` closes the HTTP response."""
        self._task.cancel()

    async def wait_closed(self) -> None:
        """Wait until the request is closed, then end :meth:`reads` for a reader waiting on it."""
        await asyncio.wait({self._task})
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    def _check_content_type(self, content_type: str) -> None:
        """Refuse a 2xx answer that is not 24 kHz PCM, rather than play it as noise.

        JSON or text is an error report, or a server that ignored ``response_format``. A stated
        rate other than 24 kHz (openedai-speech's piper voices send ``audio/pcm;rate=22050``)
        would play at the wrong speed and pitch.
        """
        media_type, _, parameters = content_type.lower().partition(";")
        if media_type.strip().startswith(_NOT_AUDIO):
            self._failures.log(ValueError(f"content type {content_type}"), "answer")
            raise self._failures.unreadable()
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip() == "rate" and value.strip() != str(SAMPLE_RATE):
                raise VoiceEngineError(
                    VoiceErrorCode.UNSUPPORTED,
                    f"the OpenAI-compatible {_SERVER} sends PCM at {value.strip()[:12]} Hz; "
                    f"this adapter plays {SAMPLE_RATE} Hz only (choose a model or voice that "
                    f"speaks at {SAMPLE_RATE} Hz)",
                )

    async def _read(self, open_speech: OpenSpeech, text: str) -> None:
        try:
            async with AsyncExitStack() as stack:
                try:
                    async with asyncio.timeout(self._timeout):
                        response = await stack.enter_async_context(open_speech(text))
                except Exception as err:  # every failure of the request becomes one error
                    raise self._failures.request(err) from None
                self._check_content_type(response.headers.get("content-type", ""))
                # `iter_bytes` is an async generator typed as a plain iterator; closing it
                # explicitly ends the HTTP library's body iteration before the response closes.
                reads = cast(AsyncGenerator[bytes, None], response.iter_bytes())
                body = await stack.enter_async_context(aclosing(reads))
                while True:
                    try:
                        async with asyncio.timeout(self._timeout):
                            data = await anext(body)
                    except StopAsyncIteration:
                        break
                    except Exception as err:
                        raise self._failures.stream(err) from None
                    if data:
                        await self._queue.put(data)
        except VoiceEngineError as error:
            await self._queue.put(error)
        except Exception as err:  # closing the response failed: still end the reader's wait
            await self._queue.put(self._failures.stream(err))
        else:
            await self._queue.put(None)


class OpenAISynthesis:
    """One answer: chunks spoken in order, each by its own :class:`ChunkRequest`.

    ``chunk_index`` counts :meth:`send_text` calls from 0. A chunk of only whitespace is not
    sent to the server (it would refuse it) and has no audio, but keeps its index.
    """

    __slots__ = (
        "_changed",
        "_closed",
        "_ended",
        "_lookahead",
        "_new_request",
        "_reading",
        "_requests",
        "_texts",
    )

    def __init__(self, new_request: Callable[[str], ChunkRequest], lookahead: int) -> None:
        self._new_request = new_request
        self._lookahead = lookahead
        self._texts: list[str] = []
        self._requests: dict[int, ChunkRequest] = {}
        self._reading = 0
        self._ended = False
        self._closed = False
        self._changed = asyncio.Event()

    async def send_text(self, text: str) -> None:
        """Queue ``text``; its request starts now if it is within the look-ahead."""
        if self._closed:
            return
        if self._ended:
            raise RuntimeError("send_text after end: the answer's text has ended")
        self._texts.append(text)
        self._open_requests()
        self._changed.set()

    async def end(self) -> None:
        """No more text: :meth:`audio` ends after the last chunk's audio."""
        self._ended = True
        self._changed.set()

    async def audio(self) -> AsyncIterator[SpokenAudio]:
        """The answer's audio in order; read it once. Ends after :meth:`end` and the last chunk,
        or at once after :meth:`aclose`.

        Raises :class:`VoiceEngineError` when a chunk's request fails.
        """
        while True:
            index = self._reading
            while index >= len(self._texts) and not (self._ended or self._closed):
                self._changed.clear()
                await self._changed.wait()
            if self._closed or index >= len(self._texts):
                return
            self._open_requests()
            request = self._requests.get(index)
            if request is not None:
                samples = Pcm16Reader()
                async for data in request.reads():
                    pcm = samples.feed(data)
                    if len(pcm):
                        yield SpokenAudio(pcm, index)
                if self._closed:
                    return
                if samples.pending:
                    logger.warning("text-to-speech audio ended half-way through a sample")
                del self._requests[index]
            self._reading = index + 1

    async def aclose(self) -> None:
        """Close every open request at once (the server sees its connections drop) and end
        :meth:`audio`. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._changed.set()
        requests = list(self._requests.values())
        self._requests.clear()
        for request in requests:
            request.cancel()
        for request in requests:
            await request.wait_closed()

    def _open_requests(self) -> None:
        """Start the requests of the chunk being read and of the look-ahead after it."""
        last = min(len(self._texts), self._reading + 1 + self._lookahead)
        for index in range(self._reading, last):
            if index not in self._requests and self._texts[index].strip():
                self._requests[index] = self._new_request(self._texts[index])


class Pcm16Reader:
    """Little-endian 16-bit samples from network reads, which may end half-way through one.

    The odd byte is kept and joined to the next read, so every sample is read whole.
    """

    __slots__ = ("_carry",)

    def __init__(self) -> None:
        self._carry = b""

    @property
    def pending(self) -> bool:
        """Whether half a sample is waiting for its other byte."""
        return bool(self._carry)

    def feed(self, data: bytes) -> Pcm:
        """The whole samples available after ``data``, as float32 in [-1, 1) (may be empty)."""
        if self._carry:
            data = self._carry + data
        whole = len(data) - len(data) % 2
        self._carry = data[whole:]
        pcm: Pcm = np.frombuffer(data, dtype="<i2", count=whole // 2).astype(np.float32)
        pcm *= _PCM16_SCALE
        return pcm
