"""Event-loop lag: how long other work holds the loop, measured from inside it.

DESIGN 4 promises that loading a pack never blocks the loop for more than a few
milliseconds. This is how an operator checks that in production: a task sleeps for a fixed
interval and records how much later than asked it woke up. Any callback that holds the loop
(a parse that slipped onto it, a huge JSON dump) shows up as lag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

INTERVAL_SECONDS = 0.01


async def monitor_loop_lag(
    observe: Callable[[float], None], interval: float = INTERVAL_SECONDS
) -> None:
    """Run until cancelled, passing each wake-up's lateness (seconds, >= 0) to ``observe``."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(interval)
        observe(max(0.0, loop.time() - started - interval))
