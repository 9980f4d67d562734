"""A global send rate shared by every simulated session.

``--rate 2000`` means 2,000 events per second in total, whatever the number of sessions:
each send asks the pacer for the next free slot, slots are ``1/rate`` apart, and a caller
sleeps until its slot. Unused slots are not saved up, so after a quiet spell the load does
not arrive as one burst.
"""

from __future__ import annotations

import asyncio


class Pacer:
    """Hands out send times ``1/rate`` seconds apart, in the order they are asked for."""

    __slots__ = ("_interval", "_next")

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be a positive number of events per second, not {rate}")
        self._interval = 1.0 / rate
        self._next = 0.0

    def reserve(self, now: float) -> float:
        """The next free slot at or after ``now`` (pure bookkeeping; the caller waits)."""
        slot = max(self._next, now)
        self._next = slot + self._interval
        return slot

    async def wait(self, deadline: float | None = None) -> bool:
        """Sleep until this caller's slot; ``False`` at once if it falls after ``deadline``."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = self.reserve(now)
        if deadline is not None and slot >= deadline:
            return False
        if slot > now:
            await asyncio.sleep(slot - now)
        return True
