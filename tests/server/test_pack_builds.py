"""A costly pack costs its reloader, never the other sessions: budgets, caching, the bound.

Real servers on loopback, real packs in ``tmp_path`` built in real child processes, and the
server's own ``/metrics``.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from tests.characters.costly_packs import write_costly_pack
from tests.server.conftest import DEFAULT_NAMES, MakeServer, sample_in, write_pack
from unmute_server.server.state import PACKS

IN_PROGRESS = "unmute_pack_builds_in_progress"
OVER_BUDGET = "unmute_pack_builds_over_budget_total"


async def test_a_costly_pack_gets_pack_too_costly_while_other_sessions_are_served(
    make_server: MakeServer, packs_root: Path
) -> None:
    write_costly_pack(packs_root / "costly", files=8)
    server = await make_server(pack_build_cpu_seconds=0.2)
    reloader = await server.connect()
    other = await server.connect()
    await reloader.send({"type": "session.characters.reload", "pack": "costly"})
    served_during = 0
    answer = None
    while answer is None:
        listed = await other.list()
        assert [c["name"] for c in listed["characters"]] == list(DEFAULT_NAMES)
        served_during += 1
        try:
            answer = await asyncio.wait_for(reloader.receive(), 0.001)
        except TimeoutError:
            continue
    assert answer["type"] == "error"
    assert answer["error"]["code"] == "pack_too_costly"
    assert answer["error"]["type"] == "invalid_request_error"
    codes = [error["code"] for error in answer["error"]["details"]["errors"]]
    assert codes == ["CHR408"]
    assert served_during > 1
    # The reloading session keeps its pack and carries on.
    assert (await reloader.list())["pack"] == "default"
    metrics = await server.metrics()
    assert sample_in(metrics, OVER_BUDGET, {"limit": "cpu"}) >= 1
    too_costly = {"outcome": "too_costly"}
    assert sample_in(metrics, "unmute_reload_duration_seconds_count", too_costly) >= 1


async def test_a_pack_over_budget_is_not_built_again_from_a_fresh_session(
    make_server: MakeServer, packs_root: Path
) -> None:
    write_costly_pack(packs_root / "costly", files=2)
    server = await make_server(pack_build_cpu_seconds=0.2)
    cache = server.app[PACKS].cache
    before = cache.stats.parses
    for _ in range(2):
        client = await server.connect()
        assert (await client.reload("costly"))["error"]["code"] == "pack_too_costly"
        await client.ws.close()
        gc.collect()
    assert cache.stats.parses == before + 1


async def test_a_broken_pack_reloaded_from_two_fresh_sessions_is_parsed_once(
    make_server: MakeServer,
) -> None:
    server = await make_server()
    cache = server.app[PACKS].cache
    before = cache.stats.parses
    for _ in range(2):
        client = await server.connect()
        assert (await client.reload("empty"))["error"]["code"] == "no_valid_characters"
        await client.ws.close()
        gc.collect()
    assert cache.stats.parses == before + 1


async def test_concurrent_cold_reloads_never_build_more_than_the_bound_at_once(
    make_server: MakeServer, packs_root: Path
) -> None:
    for index in range(3):
        write_costly_pack(packs_root / f"costly{index}", files=2)
    write_pack(packs_root, "fine", ["Zed"])
    server = await make_server(pack_build_cpu_seconds=0.3, max_concurrent_builds=1)
    over_cpu = {"limit": "cpu"}
    over_before = sample_in(await server.metrics(), OVER_BUDGET, over_cpu)
    clients = [await server.connect() for _ in range(4)]
    reloads = [
        asyncio.ensure_future(client.reload(pack))
        for client, pack in zip(clients, ["costly0", "costly1", "costly2", "fine"], strict=True)
    ]
    seen: list[float] = []
    while not all(reload.done() for reload in reloads):
        seen.append(sample_in(await server.metrics(), IN_PROGRESS))
        await asyncio.sleep(0.01)
    answers = [await reload for reload in reloads]
    assert [answer["type"] for answer in answers] == ["error"] * 3 + ["session.characters.reloaded"]
    assert max(seen) == 1  # one build at a time, and one was seen running
    # Each was stopped by its CPU budget, not by a deadline spent waiting for its turn.
    assert sample_in(await server.metrics(), OVER_BUDGET, over_cpu) == over_before + 3
    assert sample_in(await server.metrics(), IN_PROGRESS) == 0
