"""Real server processes for tests that need signals, logs, ports or several processes.

:func:`serve_process` starts ``unmute-server serve``, waits for its listening line and yields
a :class:`ServeProcess` whose ``logs`` collect every line it writes to stderr while it runs; on
the way out it is stopped with SIGTERM (killed if it does not end), so no test leaves one
behind. :class:`WorkerNotingClient` opens sessions and says which process took each (the
handshake's ``X-Unmute-Worker-Pid``), for tests with several workers or backends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

import aiohttp

#: What ``serve`` prints once it listens.
LISTENING = "unmute-server listening on "

#: The handshake header naming the process that took a session.
WORKER_HEADER = "X-Unmute-Worker-Pid"
#: The query parameter that tells a client's concurrent handshakes apart.
HANDSHAKE_PARAMETER = "handshake"


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """End a server a test started: SIGTERM, then SIGKILL if it has not ended 30 s later."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


def free_port() -> int:
    """A loopback port free right now (for servers that cannot be told to pick one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class WorkerNotingClient:
    """An HTTP client that notes which process answered each of its handshakes.

    Handshakes may be in flight together, and they end in any order: each one carries a query
    parameter of its own (``?handshake=N``, which the server ignores), and the worker is noted
    under it, never as "the last handshake's".
    """

    def __init__(self) -> None:
        self._workers: dict[str, int] = {}
        self._handshakes = itertools.count()
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._note_worker)
        # No connection limit: a test holds many sessions at once, each its own connection.
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), trace_configs=[trace]
        )

    async def _note_worker(
        self, _session: object, _context: object, params: aiohttp.TraceRequestEndParams
    ) -> None:
        handshake = params.url.query.get(HANDSHAKE_PARAMETER)
        if handshake is not None:
            self._workers[handshake] = int(params.response.headers.get(WORKER_HEADER, 0))

    async def connect(self, base: str) -> tuple[int, aiohttp.ClientWebSocketResponse]:
        """A session on ``base`` (past the ``session.created`` every connection starts with)
        and the pid of the process that took it."""
        handshake = str(next(self._handshakes))
        async with asyncio.timeout(30):  # a worker that never answers fails, not hangs
            ws = await self.http.ws_connect(
                f"{base}/v1/realtime", params={HANDSHAKE_PARAMETER: handshake}
            )
        worker = self._workers.pop(handshake, 0)
        assert worker > 0
        created = await ws.receive_json(timeout=30)
        assert created["type"] == "session.created", created
        return worker, ws


@dataclass
class ServeProcess:
    process: asyncio.subprocess.Process
    base_url: str
    logs: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    async def wait_for_log(self, matches: Callable[[str], bool], seconds: float = 30) -> str:
        """The first log line for which ``matches`` is true, waiting for it if need be."""
        async with asyncio.timeout(seconds):
            while True:
                for line in self.logs:
                    if matches(line):
                        return line
                if self.process.returncode is not None:
                    raise AssertionError("serve exited:\n" + "\n".join(self.logs))
                await asyncio.sleep(0.05)

    def output(self) -> str:
        return "\n".join(self.logs)


def without_llm(env: Mapping[str, str]) -> dict[str, str]:
    """``env``, plus ``UNMUTE_LLM=off`` unless it says which LLM to use: a server process
    started by a test that is not about the LLM starts no embedded model (each costs seconds
    and hundreds of MB, and several at once starve a 2-core machine)."""
    if any(name.startswith("UNMUTE_LLM") for name in env):
        return dict(env)
    return {**env, "UNMUTE_LLM": "off"}


@contextlib.asynccontextmanager
async def serve_process(
    *args: str, env: Mapping[str, str] | None = None
) -> AsyncIterator[ServeProcess]:
    """``serve --host 127.0.0.1 --port 0 ARGS`` running, with ``env`` over this process's."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "unmute_server",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **without_llm(env or {})},
    )
    logs: list[str] = []
    assert process.stdout is not None
    assert process.stderr is not None
    stderr = process.stderr

    async def collect() -> None:
        while line := await stderr.readline():
            logs.append(line.decode("utf-8", "replace").rstrip("\n"))

    collector = asyncio.create_task(collect())
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
        if not line.startswith(LISTENING):
            await asyncio.wait_for(process.wait(), 30)
            await asyncio.wait_for(collector, 30)
            raise AssertionError(f"serve did not start ({line!r}):\n" + "\n".join(logs))
        yield ServeProcess(process, line.removeprefix(LISTENING), logs)
    finally:
        await stop_process(process)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(collector, 30)
        collector.cancel()
