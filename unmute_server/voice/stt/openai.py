"""Speech-to-text through an OpenAI-compatible ``/audio/transcriptions`` endpoint.

The hosted OpenAI API, speaches (formerly faster-whisper-server) and vLLM all answer it. It takes a
whole recording and gives its text, so one utterance is one request: the audio is collected while
the person speaks and posted, as a 24 kHz mono 16-bit WAV, when the turn ends. That has a cost
the streaming engines do not: there are no partial transcripts while the person speaks
(``on_partial`` is never called), and the final text comes one upload and one recognition after
the end of speech. (The ``stream=true`` variant some models offer streams the text of an upload
already made, so it would not bring partials during speech either.)

An utterance is bounded: past ``max_utterance_seconds`` the transcription refuses more audio with
a ``voice_unsupported`` error rather than dropping the beginning or the end of what was said
without telling anyone. The default, 60 s, is far longer than a turn in a conversation and far
below the 25 MB the OpenAI API accepts per file (about 9 minutes of this WAV).
"""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import Awaitable, Callable
from typing import Any, Final

import numpy as np

from unmute_server.voice._openai_client import (
    FailureReport,
    ModelsProbe,
    check_engine_arguments,
    make_client,
)
from unmute_server.voice.audio import SAMPLE_RATE, Pcm
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.stt.engine import PartialCallback

DEFAULT_MAX_UTTERANCE_SECONDS: Final = 60.0

# Building the WAV is a copy of the collected bytes; past this many samples (10 s) the copy moves
# to a thread so a long utterance never holds the event loop for the other sessions.
_THREAD_THRESHOLD_SAMPLES: Final = 10 * SAMPLE_RATE
_SERVER = "speech-to-text server"


class OpenAISpeechToText:
    """One per process: a connection pool to one server, shared by every session's utterances.

    ``base_url`` is the API base the client appends ``/audio/transcriptions`` to (for example
    ``http://127.0.0.1:8000/v1``). ``timeout`` bounds each transcription request from the upload
    to the answer, and the health probe (capped at a few seconds).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        model: str,
        timeout: float,
        max_utterance_seconds: float = DEFAULT_MAX_UTTERANCE_SECONDS,
    ) -> None:
        check_engine_arguments(model, timeout)
        if not max_utterance_seconds > 0:
            raise ValueError(
                f"max_utterance_seconds must be a positive number, got {max_utterance_seconds!r}"
            )
        self._client = make_client(base_url, api_key, timeout)
        self._model = model
        self._timeout = timeout
        self._max_samples = round(max_utterance_seconds * SAMPLE_RATE)
        self._failures = FailureReport(_SERVER, api_key, timeout)
        self._probe = ModelsProbe(self._client, timeout)

    async def start(self, language: str, on_partial: PartialCallback) -> OpenAITranscription:
        """Open one utterance. ``on_partial`` is never called: this API has no partials.

        ``language`` (ISO 639-1) is passed to the server as is; an empty one lets it detect.
        """
        return OpenAITranscription(self._transcribe, language, self._max_samples)

    #: A remote server's probe failures are logged; it gives no reason to show.
    down_reason: str | None = None

    async def warm(self) -> None:
        """Nothing to prepare: connections open per utterance."""

    async def probe(self) -> bool:
        """Whether the server answers ``GET /models`` (see :class:`ModelsProbe`)."""
        return await self._probe()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.close()

    async def _transcribe(self, wav: bytes, language: str) -> str:
        extra: dict[str, Any] = {"language": language} if language else {}
        try:
            async with asyncio.timeout(self._timeout):
                result = await self._client.audio.transcriptions.create(
                    model=self._model,
                    file=("utterance.wav", wav, "audio/wav"),
                    response_format="json",
                    **extra,
                )
        except Exception as err:  # every failure of the request becomes one VoiceEngineError
            raise self._failures.request(err) from None
        # The client builds its result without validating it, so the shape is checked here.
        text: object = getattr(result, "text", None)
        if not isinstance(text, str):
            self._failures.log(TypeError(f"text is {type(text).__name__}"), "answer")
            raise self._failures.unreadable()
        return text.strip()


class OpenAITranscription:
    """One utterance: audio collected as 16-bit samples (half the memory of float32), posted at
    :meth:`finish`.

    Cancelling the task awaiting :meth:`finish` closes the upload or the wait for the answer at
    once (the server sees the connection drop).
    """

    __slots__ = ("_chunks", "_closed", "_language", "_max_samples", "_samples", "_transcribe")

    def __init__(
        self,
        transcribe: Callable[[bytes, str], Awaitable[str]],
        language: str,
        max_samples: int,
    ) -> None:
        self._transcribe = transcribe
        self._language = language
        self._max_samples = max_samples
        self._chunks: list[bytes] = []
        self._samples = 0
        self._closed = False

    async def feed(self, pcm: Pcm) -> None:
        """Keep ``pcm`` for the upload.

        Raises :class:`VoiceEngineError` ``voice_unsupported`` once the utterance would pass the
        engine's maximum length; the audio kept so far stays as it was.
        """
        if self._closed or len(pcm) == 0:
            return
        if self._samples + len(pcm) > self._max_samples:
            limit = self._max_samples / SAMPLE_RATE
            raise VoiceEngineError(
                VoiceErrorCode.UNSUPPORTED,
                f"the utterance is longer than {limit:g} s, the most the OpenAI-compatible "
                "speech-to-text takes in one request",
            )
        self._chunks.append(pcm16_bytes(pcm))
        self._samples += len(pcm)

    async def finish(self) -> str:
        """Post the utterance and return its text (``""`` with no request when nothing was fed,
        or after :meth:`aclose`)."""
        if self._closed or self._samples == 0:
            return ""
        chunks, self._chunks = self._chunks, []
        if self._samples > _THREAD_THRESHOLD_SAMPLES:
            wav = await asyncio.to_thread(wav_bytes, chunks)
        else:
            wav = wav_bytes(chunks)
        self._samples = 0
        return await self._transcribe(wav, self._language)

    async def aclose(self) -> None:
        """Drop the collected audio; later calls do nothing. Idempotent."""
        self._closed = True
        self._chunks = []
        self._samples = 0


def pcm16_bytes(pcm: Pcm) -> bytes:
    """Mono float32 in [-1, 1] as little-endian 16-bit samples (out-of-range values clipped)."""
    scaled = np.clip(pcm, -1.0, 1.0) * 32767.0
    samples: bytes = np.rint(scaled).astype("<i2").tobytes()
    return samples


def wav_bytes(pcm16_chunks: list[bytes]) -> bytes:
    """A complete 24 kHz mono 16-bit WAV file holding the chunks in order."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(b"".join(pcm16_chunks))
    return buffer.getvalue()
