"""Helper processes (espeak-ng, speech-to-text workers): running them behind the server's
event loop, and ending them without ever hanging on them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

logger = logging.getLogger(__name__)

#: How long reaping a killed process may take before it is given up on (and logged).
REAP_SECONDS = 5.0


def run_nicer(process: asyncio.subprocess.Process, niceness: int) -> None:
    """Make ``process`` run ``niceness`` nicer than this one (capped at 19).

    The engines' processes do batch work (a whole second pass at a turn end, a sentence of
    speech) that competes with the event loop every session waits on; on a machine with
    fewer cores than busy processes, the loop should win. Set from here, just after the
    start, because asyncio's ``create_subprocess_exec`` has no safe hook in the child (a
    ``preexec_fn`` is unsafe in a process with threads). A process that already ended
    needs no priority.
    """
    if niceness <= 0:
        return
    target = min(19, os.getpriority(os.PRIO_PROCESS, 0) + niceness)
    with contextlib.suppress(ProcessLookupError):
        os.setpriority(os.PRIO_PROCESS, process.pid, target)


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
    drains = [_drain(stream) for stream in (process.stdout, process.stderr) if stream is not None]
    try:
        await asyncio.wait_for(asyncio.gather(*drains, process.wait()), within)
    except TimeoutError:
        logger.warning("process %s did not end within %g s of being killed", process.pid, within)


async def _drain(stream: asyncio.StreamReader) -> None:
    """Read ``stream`` to its end, unless another coroutine is reading it already (a request
    still waiting for its answer when its worker is stopped): that read ends at the killed
    process's end of file too, and a second reader would only raise."""
    if stream.at_eof():
        return
    with contextlib.suppress(RuntimeError):
        await stream.read()
