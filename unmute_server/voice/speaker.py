"""The output side of a voice session: one answer's text in, its audio out.

One speaker per spoken answer. The LLM's deltas go through a
:class:`~unmute_server.voice.chunker.SentenceChunker` to the text-to-speech engine as soon as
they make a sentence or a long enough clause, so speech starts while the answer is still being
written. A task reads the engine's audio, encodes it in the session's format and reports it
(:class:`~unmute_server.voice.records.AudioChunk`), with the text of each chunk when its first
audio goes out (:class:`~unmute_server.voice.records.SpokenText`).

Barge-in is :meth:`Speaker.interrupt`: the engine is stopped, no audio frame is reported after
it returns, and it says what the person heard (the chunks whose audio had started playing, as
far as the clock tells: audio plays in real time from its first frame), so the history keeps
only what was actually said.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from unmute_server.conversation.conversation import EmitStopped
from unmute_server.voice.audio import SAMPLE_RATE
from unmute_server.voice.chunker import SentenceChunker
from unmute_server.voice.codec import OPUS_FRAME_SAMPLES, AudioFormat, OggOpusEncoder, encoder_for
from unmute_server.voice.errors import VoiceEngineError
from unmute_server.voice.records import (
    AudioChunk,
    AudioFinished,
    SpeakerRecord,
    SpokenText,
    VoiceProblem,
)
from unmute_server.voice.tts.engine import Synthesis, TextToSpeech, VoiceChoice

logger = logging.getLogger(__name__)

#: Audio up to this many samples is encoded on the event loop, more in a worker thread: sphn
#: holds the GIL while it encodes, so a thread only helps long pieces (it lets other work run
#: between frames), and for one frame (0.35 ms) the hop and its GIL hand-offs cost more than
#: they save. Two frames are at most about 0.7 ms of work.
INLINE_ENCODE_SAMPLES: Final = 2 * OPUS_FRAME_SAMPLES


@dataclass(frozen=True, slots=True)
class SpeakerTimings:
    """Callables the metrics layer supplies: seconds from the first text to the first audio,
    and the answer's real-time factor (time spent / audio produced)."""

    first_audio: Callable[[float], None] = field(default=lambda _seconds: None)
    finished: Callable[[float], None] = field(default=lambda _rtf: None)


class Speaker:
    """Speaks one answer (see the module docstring)."""

    def __init__(
        self,
        tts: TextToSpeech,
        *,
        voice: VoiceChoice,
        language: str,
        output_format: AudioFormat,
        response_id: str,
        item_id: str,
        emit: Callable[[SpeakerRecord], None],
        timings: SpeakerTimings | None = None,
    ) -> None:
        self._tts = tts
        self._voice = voice
        self._language = language
        self._format = output_format
        self.response_id = response_id
        self.item_id = item_id
        self._emit = emit
        self._timings = timings if timings is not None else SpeakerTimings()
        self._chunker = SentenceChunker()
        self._chunks: list[str] = []
        # Where each chunk's audio starts in the answer, in seconds (once known).
        self._chunk_starts: dict[int, float] = {}
        self._audio_seconds = 0.0
        self._first_text_at: float | None = None
        self._first_audio_at: float | None = None
        self._synthesis: Synthesis | None = None
        self._opening: asyncio.Task[Synthesis | None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stopped = False
        self._failed = False
        self._finished = False

    @property
    def interrupted(self) -> bool:
        """Whether :meth:`interrupt` stopped the answer."""
        return self._stopped

    async def text(self, delta: str) -> None:
        """The LLM's next delta; complete chunks go to the engine at once."""
        for chunk in self._chunker.feed(delta):
            await self._send(chunk)

    async def finish(self) -> str:
        """The text is complete: wait until all its audio is reported; the spoken transcript."""
        for chunk in self._chunker.flush():
            await self._send(chunk)
        synthesis = await self._synthesis_or_none()
        if synthesis is not None and not self._stopped:
            with contextlib.suppress(VoiceEngineError):
                await synthesis.end()
            if self._reader is not None:
                await asyncio.wait((self._reader,))
        return self._conclude()

    async def interrupt(self) -> str:
        """Stop now (barge-in): no more audio; what the person heard."""
        if not self._stopped:
            self._stopped = True
            await self._stop_engine()
        return self._conclude()

    async def aclose(self) -> None:
        """Stop without reporting anything more (the session ended)."""
        self._stopped = True
        self._finished = True
        await self._stop_engine()

    # --------------------------------------------------------------------- internals

    def heard(self) -> str:
        """The chunks whose audio had started playing, by the clock, joined."""
        if self._first_audio_at is None:
            return ""
        played = time.monotonic() - self._first_audio_at
        return " ".join(
            chunk
            for index, chunk in enumerate(self._chunks)
            if self._chunk_starts.get(index, float("inf")) <= played
        )

    def _conclude(self) -> str:
        transcript = self.heard() if self._stopped else " ".join(self._chunks)
        if not self._finished:
            self._finished = True
            if not self._stopped and self._first_text_at is not None and self._audio_seconds:
                busy = time.monotonic() - self._first_text_at
                self._timings.finished(busy / self._audio_seconds)
            self._emit(AudioFinished(self.response_id, self.item_id, transcript))
        return transcript

    async def _send(self, chunk: str) -> None:
        self._chunks.append(chunk)
        if self._stopped or self._failed:
            return
        if self._first_text_at is None:
            self._first_text_at = time.monotonic()
        synthesis = await self._synthesis_or_none()
        if synthesis is None:
            return
        try:
            await synthesis.send_text(chunk)
        except VoiceEngineError as failed:
            self._fail(failed)

    async def _synthesis_or_none(self) -> Synthesis | None:
        """The engine's synthesis, opened on the first chunk; ``None`` if it failed."""
        if self._opening is None:
            if not self._chunks:
                return None
            self._opening = asyncio.get_running_loop().create_task(
                self._open(), name="voice speaker open"
            )
        return await asyncio.shield(self._opening)

    async def _open(self) -> Synthesis | None:
        try:
            synthesis = await self._tts.start(self._voice, self._language)
        except VoiceEngineError as failed:
            self._fail(failed)
            return None
        if self._stopped:
            await synthesis.aclose()
            return None
        self._synthesis = synthesis
        self._reader = asyncio.get_running_loop().create_task(
            self._read(synthesis), name="voice speaker"
        )
        return synthesis

    async def _read(self, synthesis: Synthesis) -> None:
        encoder = encoder_for(self._format)
        threaded = isinstance(encoder, OggOpusEncoder)
        try:
            async for spoken in synthesis.audio():
                if self._stopped:
                    return
                if spoken.chunk_index not in self._chunk_starts:
                    self._chunk_starts[spoken.chunk_index] = self._audio_seconds
                    self._say_chunk(spoken.chunk_index)
                self._audio_seconds += len(spoken.pcm) / SAMPLE_RATE
                data = (
                    await asyncio.to_thread(encoder.encode, spoken.pcm)
                    if threaded and len(spoken.pcm) > INLINE_ENCODE_SAMPLES
                    else encoder.encode(spoken.pcm)
                )
                self._report(data)
            if not self._stopped:
                self._report(encoder.flush())
        except VoiceEngineError as failed:
            self._fail(failed)
        except EmitStopped:
            self._stopped = True  # the client is being cut off: nothing more to say to it

    def _say_chunk(self, index: int) -> None:
        if index < len(self._chunks):
            text = self._chunks[index] if index == 0 else " " + self._chunks[index]
            self._emit(SpokenText(self.response_id, self.item_id, text))

    def _report(self, data: bytes) -> None:
        if not data or self._stopped:
            return
        if self._first_audio_at is None:
            self._first_audio_at = time.monotonic()
            if self._first_text_at is not None:
                self._timings.first_audio(self._first_audio_at - self._first_text_at)
        self._emit(AudioChunk(self.response_id, self.item_id, data))

    def _fail(self, failed: VoiceEngineError) -> None:
        if self._failed or self._stopped:
            return
        self._failed = True
        self._emit(VoiceProblem(failed.code.value, f"text-to-speech failed: {failed.message}"))

    async def _stop_engine(self) -> None:
        opening = self._opening
        if opening is not None and not opening.done():
            opening.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait((opening,))
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait((reader,))
        synthesis = self._synthesis
        if synthesis is not None:
            try:
                await synthesis.aclose()
            except Exception:
                logger.exception("closing a text-to-speech synthesis failed")
