"""The global send rate."""

from __future__ import annotations

import asyncio

import pytest

from unmute_server.loadtest.pacer import Pacer


def test_slots_are_one_over_the_rate_apart_in_the_order_asked() -> None:
    pacer = Pacer(100)
    slots = [pacer.reserve(now=5.0) for _ in range(4)]
    assert slots == pytest.approx([5.0, 5.01, 5.02, 5.03])


def test_unused_slots_are_not_saved_up_for_a_burst() -> None:
    pacer = Pacer(10)
    pacer.reserve(now=0.0)
    assert pacer.reserve(now=60.0) == 60.0
    assert pacer.reserve(now=60.0) == pytest.approx(60.1)


async def test_a_slot_after_the_deadline_is_refused_without_waiting() -> None:
    pacer = Pacer(1)  # one per second: the second slot is a second after the first
    deadline = asyncio.get_running_loop().time() + 0.5
    assert await pacer.wait(deadline)
    assert not await pacer.wait(deadline)


@pytest.mark.parametrize("rate", [0.0, -5.0])
def test_a_rate_that_is_not_positive_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Pacer(rate)
