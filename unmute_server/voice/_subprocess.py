"""Ending a helper process (espeak-ng, a speech-to-text worker) without ever hanging on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

logger = logging.getLogger(__name__)

#: How long reaping a killed process may take before it is given up on (and logged).
REAP_SECONDS = 5.0


async def reap(process: asyncio.subprocess.Process, *, within: float = REAP_SECONDS) -> None:
    """Kill ``process`` if it still runs, and wait for it, reading what its pipes still hold.

    asyncio's ``Process.wait()`` returns only once every pipe of the process is closed, and a
    pipe nobody reads any more (an answer abandoned at barge-in) fills its buffer, pauses its
    transport and never sees its end: ``wait()`` alone would then wait forever. Reading the
    pipes to their end (the data is thrown away) lets them close. Callers must have stopped
    their own reads of the pipes first.
    """
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    drains = [stream.read() for stream in (process.stdout, process.stderr) if stream is not None]
    try:
        await asyncio.wait_for(asyncio.gather(*drains, process.wait()), within)
    except TimeoutError:
        logger.warning("process %s did not end within %g s of being killed", process.pid, within)
