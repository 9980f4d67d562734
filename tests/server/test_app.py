"""Application start-up and clean-up: the default pack is checked before anything is served."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.server.conftest import Serve, write_pack
from unmute_server.server.app import StartupError, create_app, make_app
from unmute_server.server.settings import Settings
from unmute_server.server.state import PACKS, SETTINGS


async def start(settings: Settings) -> web.AppRunner:
    runner = web.AppRunner(create_app(settings))
    try:
        await runner.setup()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def test_default_pack_without_valid_characters_stops_start_up(settings: Settings) -> None:
    with pytest.raises(StartupError) as raised:
        await start(settings.replace(default_pack="empty"))
    message = raised.value.message
    assert "default pack 'empty'" in message
    assert "no valid characters" in message
    assert "only.toml" in message
    assert "CHR402" in message


async def test_missing_default_pack_stops_start_up(settings: Settings) -> None:
    with pytest.raises(StartupError, match="does not exist"):
        await start(settings.replace(default_pack="absent"))


async def test_default_pack_name_outside_the_root_stops_start_up(settings: Settings) -> None:
    with pytest.raises(StartupError, match="default pack: pack name"):
        await start(settings.replace(default_pack="../packs"))


async def test_missing_packs_root_stops_start_up(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="is not a folder"):
        await start(settings.replace(packs_root=tmp_path / "nowhere"))


async def test_default_pack_problems_are_logged_at_start_up(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="unmute_server.server.app")
    runner = await start(settings.replace(default_pack="broken"))
    try:
        assert runner.app[PACKS].default.pack == "broken"
        logged = [record.getMessage() for record in caplog.records]
        assert any("bad.toml" in line and "CHR" in line for line in logged)
    finally:
        await runner.cleanup()


async def test_clean_up_stops_the_loop_lag_monitor(settings: Settings) -> None:
    def monitors() -> list[asyncio.Task[object]]:
        return [
            task
            for task in asyncio.all_tasks()
            if "monitor_loop_lag" in repr(task.get_coro()) and not task.done()
        ]

    runner = await start(settings)
    assert len(monitors()) == 1
    await runner.cleanup()
    assert monitors() == []


async def test_make_app_reads_the_environment_for_gunicorn(
    monkeypatch: pytest.MonkeyPatch, packs_root: Path
) -> None:
    write_pack(packs_root, "gunicorn", ["Gus"])
    monkeypatch.setenv("UNMUTE_PACKS_ROOT", str(packs_root))
    monkeypatch.setenv("UNMUTE_DEFAULT_PACK", "gunicorn")
    monkeypatch.setenv("UNMUTE_MAX_SESSIONS", "7")
    app = await make_app()
    assert app[SETTINGS].max_sessions == 7
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert list(app[PACKS].default) == ["Gus"]
    finally:
        await runner.cleanup()


async def test_a_connection_that_never_finishes_its_headers_is_closed(serve_app: Serve) -> None:
    served = await serve_app(header_timeout=0.5)
    trickling = []
    for _ in range(20):
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        trickling.append((reader, writer))
    try:
        for reader, _writer in trickling:
            # The server hangs up: end of stream, no answer.
            assert await asyncio.wait_for(reader.read(), 30) == b""
    finally:
        for _reader, writer in trickling:
            writer.close()


async def test_the_header_timeout_leaves_requests_and_sessions_alone(serve_app: Serve) -> None:
    served = await serve_app(header_timeout=0.3)
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{served.port}"
        ws = await http.ws_connect(f"{url}/v1/realtime")
        created = await ws.receive(timeout=30)
        assert json.loads(created.data)["type"] == "session.created"
        await asyncio.sleep(1)  # past the header timeout: a session is not a pending request
        await ws.send_str('{"type": "session.characters.list"}')
        listed = await ws.receive(timeout=30)
        assert json.loads(listed.data)["pack"] == "default"
        async with http.get(f"{url}/v1/health") as response:
            assert response.status == 200
        await ws.close()
