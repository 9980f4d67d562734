"""Whole runs against the real server (``create_app``) on loopback, one per scenario.

These are the load generator's smoke tests: a small run must come back clean, with every
sent event answered, because the server answers each event of a session exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import tomli_w
from pytest_aiohttp import AiohttpServer

from unmute_server.loadtest.runner import LoadConfig, Scenario, run_load
from unmute_server.loadtest.target import TargetError
from unmute_server.server.app import create_app
from unmute_server.server.settings import Settings

Serve = Callable[..., Awaitable[str]]


def write_pack(root: Path, pack: str, names: tuple[str, ...]) -> None:
    folder = root / pack
    folder.mkdir(parents=True)
    for name in names:
        document = {
            "name": name,
            "voice": {"source_type": "file", "path_on_server": f"voices/{name}.wav"},
            "instructions": {"type": "constant", "text": f"You are {name}."},
        }
        (folder / f"{name.lower()}.toml").write_text(tomli_w.dumps(document), encoding="utf-8")


@pytest.fixture
def serve(tmp_path: Path, aiohttp_server: AiohttpServer) -> Serve:
    """Start the real server on loopback with packs ``one`` (default) and ``two``."""
    write_pack(tmp_path, "one", ("Ann", "Bo"))
    write_pack(tmp_path, "two", ("Cy", "Di", "Ed"))

    async def start(**settings: object) -> str:
        app = create_app(Settings(packs_root=tmp_path, default_pack="one", **settings))  # type: ignore[arg-type]
        server = await aiohttp_server(app)
        return str(server.make_url("/v1/realtime")).replace("http://", "ws://")

    return start


async def test_mix_gets_an_answer_to_every_event_and_no_error(serve: Serve) -> None:
    url = await serve()
    config = LoadConfig(url=url, sessions=10, reloads=3, packs=("two", "one"), events=4)
    report = await run_load(config)
    assert report.clean, report.errors
    assert report.connects_succeeded == 10
    assert report.total_sent == report.total_answered == config.expected_answers() == 10 * 15
    assert report.sent["session.characters.reload"] == 30
    assert report.sent["session.characters.list"] + report.sent["session.update"] == 120
    assert set(report.latency) == {
        "session.characters.list",
        "session.characters.reload",
        "session.update",
    }


async def test_burst_rounds_each_get_one_answer_per_session(serve: Serve) -> None:
    report = await run_load(LoadConfig(url=await serve(), sessions=8, scenario=Scenario.BURST))
    assert report.clean
    assert [result.answers for result in report.rounds] == [8, 8, 8]


async def test_list_paced_for_a_duration_sends_no_more_than_the_rate_allows(
    serve: Serve,
) -> None:
    config = LoadConfig(
        url=await serve(), sessions=5, scenario=Scenario.LIST, rate=100, duration=0.3
    )
    report = await run_load(config)
    assert report.clean
    assert 0 < report.total_answered <= 100 * 0.3 + 1


async def test_idle_holds_every_session_until_released(serve: Serve) -> None:
    held: list[int] = []
    released = asyncio.Event()

    def on_hold(count: int) -> None:
        held.append(count)
        released.set()

    async def release() -> None:
        await released.wait()

    config = LoadConfig(url=await serve(), sessions=6, scenario=Scenario.IDLE, hold=60.0)
    report = await run_load(config, on_hold=on_hold, release=release)
    assert held == [6]
    assert report.clean
    assert report.total_answered == 6


async def test_cycles_each_connect_reload_and_disconnect(serve: Serve) -> None:
    config = LoadConfig(
        url=await serve(), sessions=4, scenario=Scenario.CYCLES, cycles=20, packs=("two", "one")
    )
    report = await run_load(config)
    assert report.clean
    assert report.cycles_completed == 20
    assert report.connects_succeeded == 20
    assert report.sent == {"session.characters.reload": 20}


async def test_phases_are_announced_in_order(serve: Serve) -> None:
    phases: list[str] = []
    config = LoadConfig(url=await serve(), sessions=2, scenario=Scenario.BURST, rounds=2)
    await run_load(config, on_phase=phases.append)
    assert phases == ["connect", "round-1", "round-2", "close", "done"]


async def test_sessions_over_the_servers_limit_are_reported_by_error_code(serve: Serve) -> None:
    url = await serve(max_sessions=3)
    config = LoadConfig(url=url, sessions=5, scenario=Scenario.IDLE)
    report = await run_load(config)
    assert not report.clean
    assert report.errors.get("too_many_sessions") == 2


async def test_reloading_a_pack_that_does_not_exist_counts_its_error_code(serve: Serve) -> None:
    config = LoadConfig(url=await serve(), sessions=2, reloads=1, packs=("missing",), events=0)
    report = await run_load(config)
    assert report.errors == {"directory_not_found": 2}
    assert report.total_sent == report.total_answered


def test_a_remote_target_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(TargetError):
        LoadConfig(url="ws://192.0.2.1:8000/v1/realtime")


def test_reloads_without_packs_are_refused() -> None:
    with pytest.raises(ValueError, match="--packs"):
        LoadConfig(url="ws://127.0.0.1:1/v1/realtime", reloads=2)
