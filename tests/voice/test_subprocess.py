"""Reaping a helper process (espeak-ng, a speech-to-text worker) while it is still in use."""

from __future__ import annotations

import asyncio
import sys

from unmute_server.voice._subprocess import reap


async def test_reaping_a_process_whose_output_is_being_read_ends_it_and_the_read() -> None:
    # A request still waiting for its worker's answer when the worker is stopped: reap() must
    # not start a second read of the same pipe (asyncio refuses one), and both must end.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import time; time.sleep(60)",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    waiting = asyncio.create_task(process.stdout.read(10))
    await asyncio.sleep(0.1)  # the read is waiting for data
    await reap(process, within=10)
    assert process.returncode is not None
    assert await asyncio.wait_for(waiting, 10) == b""
