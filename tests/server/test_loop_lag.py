"""The loop-lag monitor reports time the loop was held, and feeds the histogram."""

from __future__ import annotations

import asyncio
import time

from tests.server.conftest import Server, sample_in, until
from unmute_server.server.loop_lag import monitor_loop_lag


async def test_a_blocked_loop_shows_up_as_lag_at_least_as_long_as_the_block() -> None:
    seen: list[float] = []
    monitor = asyncio.create_task(monitor_loop_lag(seen.append, interval=0.01))
    try:
        await until(lambda: len(seen) >= 1, "a first observation")
        count = len(seen)
        time.sleep(0.1)  # noqa: ASYNC251 (holding the loop is the point)
        await until(lambda: len(seen) > count, "the observation after the block")
    finally:
        monitor.cancel()
        await asyncio.wait((monitor,))
    # The sleep in progress was due within 10 ms of the block's start; it woke after it.
    assert max(seen[count:]) >= 0.1 - 0.01
    assert min(seen) >= 0.0


async def test_lag_is_exported_while_the_server_runs(server: Server) -> None:
    name = "unmute_event_loop_lag_seconds_count"
    first = sample_in(await server.metrics(), name)
    # The monitor of this server's application observes on its own.
    observed = False
    for _ in range(200):
        await asyncio.sleep(0.01)
        if sample_in(await server.metrics(), name) > first:
            observed = True
            break
    assert observed
