"""Several workers under gunicorn: one ``/metrics`` for the whole server, and HUP.

gunicorn runs for real in a child process with two ``aiohttp.GunicornWebWorker`` workers on
loopback and the package's gunicorn configuration; every session's handshake names the worker
that took it (``X-Unmute-Worker-Pid``), so the tests know where each session lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.server.conftest import character_toml, write_pack
from tests.server.serve_process import WorkerNotingClient, free_port, stop_process, without_llm


@contextlib.asynccontextmanager
async def gunicorn(
    packs_root: Path, metrics_dir: Path, workers: int = 2
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """gunicorn as the operations guide gives it, until it answers ``/v1/health``."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gunicorn",
        "unmute_server.app:make_app",
        "--config",
        "python:unmute_server.server.gunicorn_config",
        "--worker-class",
        "aiohttp.GunicornWebWorker",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
        env={
            **os.environ,
            **without_llm(
                {
                    "UNMUTE_PACKS_ROOT": str(packs_root),
                    "UNMUTE_DEFAULT_PACK": "main",
                    "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                }
            ),
        },
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(60):
            while True:
                assert process.returncode is None, "gunicorn exited"
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/v1/health") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.2)
        yield process, base
    finally:
        await stop_process(process)


async def active_sessions(http: aiohttp.ClientSession, base: str) -> float:
    async with http.get(f"{base}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    for family in text_string_to_metric_families(text):
        if family.name == "unmute_active_sessions":
            [sample] = family.samples  # summed over the workers: one sample, no pid label
            return sample.value
    raise AssertionError("no unmute_active_sessions in /metrics")


async def sessions_on_both_workers(
    client: WorkerNotingClient, base: str
) -> dict[int, list[aiohttp.ClientWebSocketResponse]]:
    """Open sessions until two workers hold at least two each.

    Ten at a time: the workers share one listening socket, and handshakes made one after the
    other tend to be accepted by whichever worker is awake already, so one worker may take
    long runs of them; handshakes in flight together reach both.
    """
    by_worker: dict[int, list[aiohttp.ClientWebSocketResponse]] = {}
    for _ in range(40):
        for pid, ws in await asyncio.gather(*(client.connect(base) for _ in range(10))):
            by_worker.setdefault(pid, []).append(ws)
        if len(by_worker) >= 2 and all(len(held) >= 2 for held in by_worker.values()):
            return by_worker
    raise AssertionError(f"the sessions never spread: {[len(s) for s in by_worker.values()]}")


async def until_value(http: aiohttp.ClientSession, base: str, expected: float) -> None:
    async with asyncio.timeout(30):
        while await active_sessions(http, base) != expected:  # noqa: ASYNC110  (polls a server)
            await asyncio.sleep(0.1)


async def test_one_scrape_shows_every_workers_sessions_and_a_dead_workers_leave(
    tmp_path: Path,
) -> None:
    write_pack(tmp_path / "packs", "main", ["Ada"])
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    async with gunicorn(tmp_path / "packs", metrics_dir) as (_master, base):
        client = WorkerNotingClient()
        async with client.http as http:
            by_worker = await sessions_on_both_workers(client, base)
            total = sum(len(held) for held in by_worker.values())
            for _ in range(6):  # whichever worker answers the scrape, the sum is the same
                assert await active_sessions(http, base) == total

            victim, victims_sessions = next(iter(by_worker.items()))
            os.kill(victim, signal.SIGKILL)
            for ws in victims_sessions:
                assert (await ws.receive(timeout=30)).type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                )
            await until_value(http, base, total - len(victims_sessions))
            for pid, held in by_worker.items():
                if pid != victim:
                    for ws in held:
                        assert not ws.closed
                        await ws.close()
            await until_value(http, base, 0)


async def test_hup_to_gunicorn_rereads_the_default_pack_in_every_worker_and_keeps_sessions(
    tmp_path: Path,
) -> None:
    folder = write_pack(tmp_path / "packs", "main", ["Ada"])
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    async with gunicorn(tmp_path / "packs", metrics_dir) as (master, base):
        client = WorkerNotingClient()
        async with client.http:
            by_worker = await sessions_on_both_workers(client, base)
            (folder / "ben.toml").write_text(character_toml("Ben"), encoding="utf-8")
            master.send_signal(signal.SIGHUP)

            async def listed(ws: aiohttp.ClientWebSocketResponse) -> list[str]:
                await ws.send_str(json.dumps({"type": "session.characters.list"}))
                event = json.loads((await ws.receive(timeout=30)).data)
                assert event["type"] == "session.characters.listed"
                return [character["name"] for character in event["characters"]]

            # New sessions on both workers get the new pack, once each worker has re-read it.
            fresh_workers: set[int] = set()
            async with asyncio.timeout(60):
                while fresh_workers != set(by_worker):
                    pid, ws = await client.connect(base)
                    if await listed(ws) == ["Ada", "Ben"]:
                        fresh_workers.add(pid)
                    await ws.close()
            # The sessions opened before the HUP are still open, on the same pack.
            for held in by_worker.values():
                for ws in held:
                    assert await listed(ws) == ["Ada"]
                    await ws.close()
