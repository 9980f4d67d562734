"""Audio on its way to one transcription, fed by a task of its own.

Why: an engine's ``feed`` may take as long as the engine needs (the embedded one answers each
chunk with its hypothesis once its worker has decoded it). If the listener waited for it, the
next chunk's turn events (a pause that ends the turn, speech that interrupts an answer) would
wait behind live transcription whenever the engine is short of CPU. With a feed, turn detection
runs ahead, and the engine gets the same audio in the same order.

Bounded: the feeds of one listener share a :class:`FeedBudget` (the turns of a session that
wait for a slow engine, together); past it ``put`` waits, so an engine that stays behind pushes
back to the listener's append bound instead of buffering without end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from unmute_server.voice.audio import Pcm
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.stt.engine import Transcription

logger = logging.getLogger(__name__)


class FeedBudget:
    """Samples that may wait for the engine, across the feeds sharing this budget."""

    def __init__(self, max_samples: int) -> None:
        self.max_samples = max_samples
        self.used = 0
        self._freed = asyncio.Event()

    async def take(self, samples: int, stopped: Callable[[], bool]) -> bool:
        """Wait until ``samples`` fit (or nothing waits: a chunk larger than the budget still
        goes alone) and take them; ``False`` if ``stopped()`` became true meanwhile."""
        while self.used and self.used + samples > self.max_samples:
            if stopped():
                return False
            self._freed.clear()
            await self._freed.wait()
        if stopped():
            return False
        self.used += samples
        return True

    def give_back(self, samples: int) -> None:
        self.used -= samples
        self._freed.set()


class TranscriptionFeed:
    """An ordered queue of audio to ``transcription``, bounded by a shared budget."""

    def __init__(
        self,
        transcription: Transcription,
        *,
        budget: FeedBudget,
        on_fed: Callable[[Pcm, float], None],
        on_failed: Callable[[VoiceEngineError], None],
    ) -> None:
        """``on_fed(pcm, busy)`` follows each feed (``busy``: the seconds given with the audio
        plus the feed's own); ``on_failed`` the feed that failed, after which nothing more is
        fed."""
        self._transcription = transcription
        self._budget = budget
        self._on_fed = on_fed
        self._on_failed = on_failed
        self._pending: deque[tuple[Pcm, float]] = deque()
        self._pending_samples = 0
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.failed = False

    async def put(self, pcm: Pcm, busy: float) -> None:
        """Queue ``pcm`` (``busy``: seconds already spent on it); waits while the budget is
        spent. Audio put after :meth:`stop` or a failure is dropped."""
        if not await self._budget.take(len(pcm), lambda: self._stopped):
            return
        self._pending.append((pcm, busy))
        self._pending_samples += len(pcm)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="voice transcription feed"
            )

    async def drained(self) -> None:
        """Wait until everything put so far was fed (or dropped by a failure or a stop)."""
        while self._task is not None:
            await asyncio.wait((self._task,))

    def stop(self) -> None:
        """Drop what waits: nothing more is fed (a feed in flight ends on its own, and the
        transcription's ``aclose`` waits for it where the engine needs that)."""
        self._stopped = True
        self._drop()

    async def _run(self) -> None:
        try:
            while self._pending and not self._stopped:
                pcm, busy = self._pending[0]
                started = time.perf_counter()
                try:
                    await self._transcription.feed(pcm)
                except VoiceEngineError as failed:
                    self._fail(failed)
                    return
                except Exception:
                    logger.exception("a speech-to-text feed failed unexpectedly")
                    self._fail(
                        VoiceEngineError(
                            VoiceErrorCode.REJECTED, "the speech-to-text failed unexpectedly"
                        )
                    )
                    return
                if self._stopped:
                    return  # dropped meanwhile: the turn was abandoned
                self._pending.popleft()
                self._pending_samples -= len(pcm)
                self._budget.give_back(len(pcm))
                self._on_fed(pcm, busy + time.perf_counter() - started)
        finally:
            self._task = None

    def _drop(self) -> None:
        self._pending.clear()
        self._budget.give_back(self._pending_samples)
        self._pending_samples = 0

    def _fail(self, failed: VoiceEngineError) -> None:
        self.failed = True
        self._stopped = True
        self._drop()
        self._on_failed(failed)
