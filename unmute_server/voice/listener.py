"""The input side of a voice session: appended audio in, turns and transcripts out.

One listener per session. ``append`` is called by the receive loop and never waits: the bytes
join a bounded queue, and one task works through it in order. Decoding and voice-activity
detection run there (small appends on the loop, large ones in a worker thread), and the
speech-to-text engine gets the audio of each turn through a :class:`TranscriptionFeed`: turn
detection never waits for the engine, so a pause ends the turn (and speech interrupts an answer)
as soon as the audio shows it, even while the engine is still transcribing what came before. A
turn's end (a pause, or the client's commit) turns into the final transcript once the engine has
had all of the turn's audio, and a call to ``on_turn``, which the server answers by starting a
response.

Bounds: audio may arrive faster than real time (a client appending a recording), and is queued
up to ``max_buffered_bytes``; past that an append is refused with ``audio_buffer_full`` rather
than dropping audio already accepted. At most ``FEED_AHEAD_SECONDS`` of decoded audio wait for
the engine; an engine further behind holds the decoding back, and so the appends. An engine
slower than real time for this session is reported once per turn (a ``warning``) and counted,
never queued without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from unmute_server.conversation.conversation import EmitStopped
from unmute_server.voice.audio import SAMPLE_RATE, Pcm
from unmute_server.voice.codec import AudioFormat, Decoder, InvalidAudioError, decoder_for
from unmute_server.voice.codec import detect_format as _detect_format
from unmute_server.voice.errors import VoiceEngineError
from unmute_server.voice.records import (
    BufferCleared,
    ListenerRecord,
    TranscriptCompleted,
    TranscriptDelta,
    TranscriptFailed,
    TurnCommitted,
    TurnStarted,
    TurnStopped,
    VoiceProblem,
)
from unmute_server.voice.stt.engine import SpeechToText, Transcription
from unmute_server.voice.transcript_stream import transcript_of_record
from unmute_server.voice.transcription_feed import FeedBudget, TranscriptionFeed
from unmute_server.voice.turns import SpeechStarted, TurnDetection, TurnDetector, TurnEvent

logger = logging.getLogger(__name__)

#: PCM16 at 24 kHz: what one second of the most common input format costs in bytes.
PCM16_BYTES_PER_SECOND: Final = SAMPLE_RATE * 2

#: Real-time factor over which a turn's engine is reported as too slow.
SLOW_RTF: Final = 1.0
#: Audio a turn must have before its real-time factor is judged.
_RTF_MIN_SECONDS: Final = 2.0
#: Appends up to this size are decoded on the event loop, larger ones in a worker thread.
#: sphn and webrtcvad hold the GIL while they work, so a thread never kept the loop free
#: during a call; for a small append the hop cost more CPU than the decoding (an 80 ms Ogg
#: page: 0.1 ms of work, 0.08 ms of hop) and its GIL hand-offs delayed every other session's
#: events. 4 KiB is at most about 1 ms of work: a second of Ogg Opus, 85 ms of PCM16.
INLINE_DECODE_BYTES: Final = 4096
#: Decoded audio a session's turns may have waiting for the speech-to-text engine: turn
#: detection runs this far ahead of the engine at most (float32: 96 KB per second).
FEED_AHEAD_SECONDS: Final = 10.0


class AudioBufferFullError(Exception):
    """An append was refused: this session already has as much audio waiting as allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """What one session's listener does; rebuilt when ``session.update`` changes it."""

    language: str
    #: ``None``: the client commits turns itself (OpenAI's ``turn_detection: null``).
    turn_detection: TurnDetection | None
    #: ``None``: told apart by the first bytes (``OggS`` is Ogg Opus).
    input_format: AudioFormat | None
    max_buffered_bytes: int = 30 * PCM16_BYTES_PER_SECOND


@dataclass(frozen=True, slots=True)
class ListenerHooks:
    """What the listener calls: the server's side of a voice session."""

    #: Reports a record to the client (may raise to say the client is gone).
    emit: Callable[[ListenerRecord], None]
    #: A turn's final, non-empty transcript: ``(item_id, transcript)``.
    on_turn: Callable[[str, str], Awaitable[None]]
    #: The person started speaking (barge-in is the server's decision).
    on_speech: Callable[[], Awaitable[None]]
    #: The item a new turn is inserted after (the conversation's newest).
    previous_item: Callable[[], str | None]
    #: A fresh item id for a turn.
    new_item_id: Callable[[], str]
    #: Observes a turn's real-time factor (metrics).
    on_rtf: Callable[[float], None] = lambda _rtf: None
    #: Observes seconds from a turn's start to its first partial transcript (metrics).
    on_first_partial: Callable[[float], None] = lambda _seconds: None
    #: Observes seconds from a turn's end to its final transcript (metrics).
    on_final: Callable[[float], None] = lambda _seconds: None


class _Turn:
    """One utterance being transcribed."""

    __slots__ = (
        "audio_seconds",
        "busy_seconds",
        "completed",
        "ended_at",
        "feed",
        "item_id",
        "opened_at",
        "shown",
        "slow_reported",
        "start_sample",
        "stt",
    )

    def __init__(self, item_id: str, start_sample: int) -> None:
        self.item_id = item_id
        self.start_sample = start_sample
        self.opened_at = time.perf_counter()
        self.ended_at = self.opened_at
        self.stt: Transcription | None = None
        self.feed: TranscriptionFeed | None = None
        #: Set once the final transcript is reported: later partials are stale.
        self.completed = False
        self.shown = ""
        self.audio_seconds = 0.0
        self.busy_seconds = 0.0
        self.slow_reported = False


class Listener:
    """Appended audio in, turn and transcript records out (see the module docstring)."""

    def __init__(self, stt: SpeechToText, config: ListenerConfig, hooks: ListenerHooks) -> None:
        self._stt = stt
        self._config = config
        self._hooks = hooks
        self._queue: deque[tuple[int, bytes]] = deque()
        self._queued_bytes = 0
        self._generation = 0
        self._worker: asyncio.Task[None] | None = None
        self._finishing: asyncio.Task[None] | None = None
        self._decoder: Decoder | None = None
        self._format = config.input_format
        self._detector = (
            TurnDetector(config.turn_detection) if config.turn_detection is not None else None
        )
        self._detector_generation = 0
        self._turn: _Turn | None = None
        # Recent audio, for the prefix padding a turn gets when its start is detected late.
        self._recent: deque[Pcm] = deque()
        self._recent_samples = 0
        self._samples_in = 0
        self._closed = False
        self._start_failure_reported = False
        self._feed_budget = FeedBudget(round(FEED_AHEAD_SECONDS * SAMPLE_RATE))

    @property
    def input_format(self) -> AudioFormat | None:
        """The format in use: the configured one, or the one detected from the first bytes."""
        return self._format

    @property
    def in_turn(self) -> bool:
        """Whether the person is speaking (a turn is open)."""
        return self._turn is not None

    def append(self, data: bytes) -> None:
        """Queue ``data`` for decoding; raises :class:`AudioBufferFullError` past the bound."""
        if not data:
            return
        limit = self._config.max_buffered_bytes
        if self._queued_bytes + len(data) > limit:
            seconds = limit / PCM16_BYTES_PER_SECOND
            raise AudioBufferFullError(
                f"this session already has {self._queued_bytes} bytes of audio waiting "
                f"(the limit is {limit} bytes, about {seconds:g} s of PCM16); this append "
                "was refused: send audio at most as fast as it is processed"
            )
        if self._format is None:
            self._format = _detect_format(data)
        self._queue.append((self._generation, data))
        self._queued_bytes += len(data)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name="voice listener"
            )

    async def commit(self) -> bool:
        """End the turn now (the client's ``input_audio_buffer.commit``); ``False`` if no
        audio has been received since the last turn ended."""
        await self._drain()
        if self._turn is None:
            return False
        self._end_turn()
        return True

    async def clear(self) -> None:
        """Drop the audio not yet committed (``input_audio_buffer.clear``)."""
        self._generation += 1
        self._queue.clear()
        self._queued_bytes = 0
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.completed = True
            await _abandon(turn)
        self._hooks.emit(BufferCleared())

    async def aclose(self) -> None:
        """Stop everything (the session ended): nothing more is reported."""
        self._closed = True
        self._queue.clear()
        for task in (self._worker, self._finishing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await asyncio.wait((task,))
        turn, self._turn = self._turn, None
        if turn is not None:
            await _abandon(turn)

    async def wait_idle(self) -> None:
        """Wait until every appended byte is processed and every turn is transcribed."""
        await self._drain()
        if self._turn is not None and self._turn.feed is not None:
            await self._turn.feed.drained()
        if self._finishing is not None:
            await asyncio.wait((self._finishing,))

    # --------------------------------------------------------------------- internals

    async def _drain(self) -> None:
        while self._worker is not None:
            await asyncio.wait((self._worker,))

    async def _work(self) -> None:
        try:
            while self._queue and not self._closed:
                generation, data = self._queue.popleft()
                self._queued_bytes -= len(data)
                started = time.perf_counter()
                if len(data) <= INLINE_DECODE_BYTES:
                    pcm, events, invalid = self._decode(generation, data)
                else:
                    pcm, events, invalid = await asyncio.to_thread(self._decode, generation, data)
                if invalid is not None:
                    self._hooks.emit(VoiceProblem("invalid_audio", invalid.message))
                if generation != self._generation:
                    continue  # cleared meanwhile
                await self._route(pcm, events, time.perf_counter() - started)
        except EmitStopped:
            self._closed = True  # the client is being cut off: nothing more to say to it
        except Exception:
            logger.exception("the voice listener stopped on an unexpected error")
            self._closed = True
            with contextlib.suppress(EmitStopped):
                self._hooks.emit(
                    VoiceProblem("internal_error", "the server failed to process the audio")
                )
        finally:
            self._worker = None

    def _decode(
        self, generation: int, data: bytes
    ) -> tuple[Pcm, list[TurnEvent], InvalidAudioError | None]:
        """Worker thread: bytes to samples, the turn events they complete, and what was wrong
        with them (the samples are then what could be salvaged)."""
        if self._decoder is None:
            self._decoder = decoder_for(self._format or AudioFormat.PCM16)
        invalid: InvalidAudioError | None = None
        try:
            pcm = self._decoder.decode(data)
        except InvalidAudioError as error:
            invalid, pcm = error, error.salvaged
        detector = self._detector
        if detector is None:
            return pcm, [], invalid
        if generation != self._detector_generation:
            self._detector_generation = generation
            detector.reset()
        return pcm, detector.push(pcm), invalid

    async def _route(self, pcm: Pcm, events: list[TurnEvent], busy: float) -> None:
        self._remember(pcm)
        turn = self._turn
        if turn is None and self._detector is None and len(pcm):
            # Client-committed turns: every audio chunk belongs to the open turn.
            turn = await self._open_turn(self._samples_in - len(pcm))
            await self._feed_recent(turn)
        elif turn is not None:
            await self._feed(turn, pcm, busy)
        for event in events:
            if isinstance(event, SpeechStarted):
                start = event.audio_start_ms * SAMPLE_RATE // 1000
                if self._turn is None:
                    padding = self._config.turn_detection
                    pad = padding.prefix_padding_ms if padding is not None else 0
                    opened = await self._open_turn(
                        max(0, start - pad * SAMPLE_RATE // 1000), event.audio_start_ms
                    )
                    await self._feed_recent(opened)
                    await self._hooks.on_speech()
            elif self._turn is not None:
                self._hooks.emit(TurnStopped(self._turn.item_id, event.audio_end_ms))
                self._end_turn()

    def _remember(self, pcm: Pcm) -> None:
        """Keep the last few seconds of audio (enough for any prefix padding)."""
        self._samples_in += len(pcm)
        if not len(pcm):
            return
        self._recent.append(pcm)
        self._recent_samples += len(pcm)
        keep = 11 * SAMPLE_RATE
        while self._recent and self._recent_samples - len(self._recent[0]) >= keep:
            self._recent_samples -= len(self._recent.popleft())

    async def _feed_recent(self, turn: _Turn) -> None:
        """Give a new turn the audio since its (padded) start."""
        first = self._samples_in - self._recent_samples
        skip = max(0, turn.start_sample - first)
        audio = np.concatenate(tuple(self._recent)) if self._recent else np.zeros(0, np.float32)
        await self._feed(turn, np.ascontiguousarray(audio[skip:], dtype=np.float32), 0.0)

    async def _open_turn(self, start_sample: int, start_ms: int | None = None) -> _Turn:
        """A new turn (reported started when VAD found it, at ``start_ms``). An engine that
        cannot transcribe it still leaves a turn, so the client sees the turn's events and
        then why it has no transcript; the first such failure is also an ``error``."""
        turn = _Turn(self._hooks.new_item_id(), start_sample)
        self._turn = turn
        if start_ms is not None:
            self._hooks.emit(TurnStarted(turn.item_id, start_ms))
        try:
            turn.stt = await self._stt.start(self._config.language, self._partial_callback(turn))
            turn.feed = TranscriptionFeed(
                turn.stt,
                budget=self._feed_budget,
                on_fed=lambda pcm, busy: self._fed(turn, pcm, busy),
                on_failed=lambda failed: self._fail_turn(turn, failed),
            )
        except VoiceEngineError as failed:
            turn.completed = True
            self._hooks.emit(TranscriptFailed(turn.item_id, failed.code.value, failed.message))
            if not self._start_failure_reported:
                self._start_failure_reported = True
                self._hooks.emit(VoiceProblem(failed.code.value, failed.message))
        return turn

    def _partial_callback(self, turn: _Turn) -> Callable[[str], None]:
        """Partials of ``turn``, as deltas: they may arrive after the turn ended (an engine
        that lags behind the audio) but never after its final transcript."""

        def partial(stable: str) -> None:
            if turn.completed or self._closed:
                return
            words, shown = stable.split(), turn.shown.split()
            if len(words) <= len(shown) or words[: len(shown)] != shown:
                return  # not an extension: words once sent are never taken back
            if not shown:
                self._hooks.on_first_partial(time.perf_counter() - turn.opened_at)
            with contextlib.suppress(EmitStopped):
                self._send_delta(turn, " ".join(words))

        return partial

    def _send_delta(self, turn: _Turn, text: str) -> None:
        """Send what ``text`` adds to what ``turn`` has shown (``text`` extends it)."""
        delta = text[len(turn.shown) :]
        turn.shown = text
        if delta:
            elapsed = (self._samples_in - turn.start_sample) / SAMPLE_RATE
            self._hooks.emit(TranscriptDelta(turn.item_id, delta, round(elapsed, 3)))

    async def _feed(self, turn: _Turn, pcm: Pcm, busy: float) -> None:
        """Queue ``pcm`` for ``turn``'s engine; waits only while the feed is full."""
        if turn.feed is not None and len(pcm):
            await turn.feed.put(pcm, busy)

    def _fed(self, turn: _Turn, pcm: Pcm, busy: float) -> None:
        """The engine took ``pcm`` (``busy``: seconds spent decoding and feeding it)."""
        turn.audio_seconds += len(pcm) / SAMPLE_RATE
        turn.busy_seconds += busy
        if turn.audio_seconds >= _RTF_MIN_SECONDS and not turn.slow_reported:
            rtf = turn.busy_seconds / turn.audio_seconds
            if rtf > SLOW_RTF:
                turn.slow_reported = True
                self._hooks.on_rtf(rtf)
                self._report(
                    VoiceProblem(
                        "engine_slower_than_real_time",
                        f"speech-to-text is running at {rtf:.1f}x real time for this session; "
                        "transcripts will lag",
                        warning=True,
                    )
                )

    def _report(self, record: ListenerRecord) -> None:
        """Emit from the feed's task: a client being cut off ends the listener's reports."""
        if self._closed:
            return
        try:
            self._hooks.emit(record)
        except EmitStopped:
            self._closed = True

    def _fail_turn(self, turn: _Turn, failed: VoiceEngineError) -> None:
        if self._turn is turn:
            self._turn = None
        turn.completed = True
        self._report(TranscriptFailed(turn.item_id, failed.code.value, failed.message))
        if turn.stt is not None:
            asyncio.get_running_loop().create_task(turn.stt.aclose(), name="voice stt close")

    def _end_turn(self) -> None:
        """Close the open turn: committed now, transcribed in order behind earlier turns."""
        turn = self._turn
        if turn is None:
            return
        self._turn = None
        turn.ended_at = time.perf_counter()
        self._hooks.emit(TurnCommitted(turn.item_id, self._hooks.previous_item()))
        if turn.audio_seconds:
            self._hooks.on_rtf(turn.busy_seconds / turn.audio_seconds)
        previous = self._finishing
        self._finishing = asyncio.get_running_loop().create_task(
            self._finish(turn, previous), name="voice transcription"
        )

    async def _finish(self, turn: _Turn, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait((previous,))
        try:
            await self._transcribe(turn)
        except EmitStopped:
            self._closed = True

    async def _transcribe(self, turn: _Turn) -> None:
        stt = turn.stt
        if stt is None:
            return
        try:
            if turn.feed is not None:
                await turn.feed.drained()
                if turn.feed.failed:
                    return  # reported as the turn's failure already
            final = await stt.finish()
        except VoiceEngineError as failed:
            turn.completed = True
            self._hooks.emit(TranscriptFailed(turn.item_id, failed.code.value, failed.message))
            return
        finally:
            if turn.feed is not None:
                turn.feed.stop()
            await stt.aclose()
        turn.completed = True
        if self._closed:
            return
        self._hooks.on_final(time.perf_counter() - turn.ended_at)
        # The deltas join to the completed transcript (see transcript_stream).
        transcript = transcript_of_record(turn.shown, final)
        self._send_delta(turn, transcript)
        self._hooks.emit(TranscriptCompleted(turn.item_id, transcript))
        if transcript:
            await self._hooks.on_turn(turn.item_id, transcript)


async def _abandon(turn: _Turn) -> None:
    """Stop feeding ``turn`` and close its transcription (whose ``aclose`` waits for a feed
    still in flight where the engine needs that)."""
    if turn.feed is not None:
        turn.feed.stop()
    if turn.stt is not None:
        await turn.stt.aclose()
