"""The feed between turn detection and a speech-to-text engine: order, bound, stop, failure.

The transcription here stands in for a remote engine whose ``feed`` takes as long as a gate
says (the contract is :class:`~unmute_server.voice.stt.engine.Transcription`).
"""

from __future__ import annotations

import asyncio

import numpy as np

from tests.server.conftest import until
from unmute_server.voice.audio import Pcm
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.transcription_feed import FeedBudget, TranscriptionFeed


class GatedTranscription:
    def __init__(self, fail_at: int | None = None) -> None:
        self.gate = asyncio.Event()
        self.fed: list[int] = []
        self._fail_at = fail_at

    async def feed(self, pcm: Pcm) -> None:
        await self.gate.wait()
        if self._fail_at is not None and len(self.fed) == self._fail_at:
            raise VoiceEngineError(VoiceErrorCode.TIMEOUT, "the engine took too long")
        self.fed.append(int(pcm[0]))

    async def finish(self) -> str:
        return ""

    async def aclose(self) -> None:
        return None


def chunk(marker: int, samples: int = 100) -> Pcm:
    return np.full(samples, marker, dtype=np.float32)


def feed_for(
    transcription: GatedTranscription,
    budget: FeedBudget,
    fed: list[tuple[int, float]] | None = None,
    failures: list[VoiceEngineError] | None = None,
) -> TranscriptionFeed:
    seen = [] if fed is None else fed
    failed = [] if failures is None else failures
    return TranscriptionFeed(
        transcription,
        budget=budget,
        on_fed=lambda pcm, busy: seen.append((len(pcm), busy)),
        on_failed=failed.append,
    )


async def test_audio_reaches_the_engine_in_order_with_its_busy_time() -> None:
    transcription = GatedTranscription()
    fed: list[tuple[int, float]] = []
    feed = feed_for(transcription, FeedBudget(1_000), fed)
    for marker in range(5):
        await feed.put(chunk(marker), 0.25)
    assert transcription.fed == []  # put never waited for the engine
    transcription.gate.set()
    await feed.drained()
    assert transcription.fed == [0, 1, 2, 3, 4]
    assert [samples for samples, _ in fed] == [100] * 5
    assert all(busy >= 0.25 for _, busy in fed)


async def test_put_waits_while_the_shared_budget_is_spent() -> None:
    budget = FeedBudget(300)
    first, second = GatedTranscription(), GatedTranscription()
    one, two = feed_for(first, budget), feed_for(second, budget)
    await one.put(chunk(1), 0.0)
    await one.put(chunk(2), 0.0)
    await two.put(chunk(3), 0.0)
    waiting = asyncio.create_task(two.put(chunk(4), 0.0))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # 300 samples wait, across both feeds
    assert budget.used == 300
    first.gate.set()
    await asyncio.wait_for(waiting, 10)
    second.gate.set()
    await two.drained()
    await one.drained()
    assert (first.fed, second.fed) == ([1, 2], [3, 4])
    assert budget.used == 0


async def test_a_chunk_larger_than_the_budget_goes_alone() -> None:
    transcription = GatedTranscription()
    feed = feed_for(transcription, FeedBudget(50))
    await asyncio.wait_for(feed.put(chunk(7, 500), 0.0), 10)
    transcription.gate.set()
    await feed.drained()
    assert transcription.fed == [7]


async def test_stop_drops_what_waits_and_frees_its_budget() -> None:
    budget = FeedBudget(1_000)
    transcription = GatedTranscription()
    fed: list[tuple[int, float]] = []
    feed = feed_for(transcription, budget, fed)
    for marker in range(4):
        await feed.put(chunk(marker), 0.0)
    await until(lambda: budget.used == 400, "four chunks queued")
    feed.stop()
    assert budget.used == 0
    await feed.put(chunk(9), 0.0)  # after a stop: dropped
    transcription.gate.set()
    await feed.drained()
    assert transcription.fed in ([], [0])  # at most the feed already in flight
    assert fed == []  # an abandoned turn reports nothing more


async def test_a_failed_feed_is_reported_once_and_nothing_more_is_fed() -> None:
    budget = FeedBudget(1_000)
    transcription = GatedTranscription(fail_at=1)
    failures: list[VoiceEngineError] = []
    feed = feed_for(transcription, budget, failures=failures)
    for marker in range(4):
        await feed.put(chunk(marker), 0.0)
    transcription.gate.set()
    await feed.drained()
    assert feed.failed
    assert transcription.fed == [0]
    assert [failure.code for failure in failures] == [VoiceErrorCode.TIMEOUT]
    assert budget.used == 0
