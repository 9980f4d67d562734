"""Re-reading the default pack in a running ``serve``: SIGHUP and ``--watch-packs``.

Every test runs the real command in a child process and sends it real signals; the pack is a
real folder in ``tmp_path`` edited between the steps.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiohttp

from tests.server.conftest import character_toml, write_pack
from tests.server.serve_process import ServeProcess, serve_process


async def health(http: aiohttp.ClientSession, server: ServeProcess) -> dict[str, Any]:
    async with http.get(f"{server.base_url}/v1/health") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


async def listed_names(ws: aiohttp.ClientWebSocketResponse) -> list[str]:
    await ws.send_str(json.dumps({"type": "session.characters.list"}))
    while True:
        event = json.loads((await ws.receive(timeout=30)).data)
        if event["type"] == "session.characters.listed":
            return [character["name"] for character in event["characters"]]


async def reload_default(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    await ws.send_str(json.dumps({"type": "session.characters.reload", "pack": "default"}))
    while True:
        event: dict[str, Any] = json.loads((await ws.receive(timeout=30)).data)
        if event["type"] in ("session.characters.reloaded", "error"):
            return event


async def version_after(
    http: aiohttp.ClientSession, server: ServeProcess, old: str, seconds: float = 30
) -> str:
    """The default pack's version once ``/v1/health`` shows one other than ``old``."""
    async with asyncio.timeout(seconds):
        while True:
            version: str = (await health(http, server))["default_pack"]["version"]
            if version != old:
                return version
            await asyncio.sleep(0.05)


async def test_sighup_gives_new_sessions_the_new_default_pack_and_open_ones_keep_theirs(
    tmp_path: Path,
) -> None:
    folder = write_pack(tmp_path, "main", ["Ada"])
    async with (
        serve_process("--packs-root", str(tmp_path), "--default-pack", "main") as server,
        aiohttp.ClientSession() as http,
    ):
        before = (await health(http, server))["default_pack"]
        assert before["characters"] == 1
        old_session = await http.ws_connect(f"{server.base_url}/v1/realtime")
        assert await listed_names(old_session) == ["Ada"]

        (folder / "ben.toml").write_text(character_toml("Ben"), encoding="utf-8")
        server.send_signal(signal.SIGHUP)
        after = await version_after(http, server, before["version"])

        assert (await health(http, server))["default_pack"]["characters"] == 2
        new_session = await http.ws_connect(f"{server.base_url}/v1/realtime")
        assert await listed_names(new_session) == ["Ada", "Ben"]
        assert await listed_names(old_session) == ["Ada"]
        reloaded = await reload_default(old_session)
        assert reloaded["type"] == "session.characters.reloaded"
        assert reloaded["version"] == after
        assert await listed_names(old_session) == ["Ada", "Ben"]
        await server.wait_for_log(lambda line: after in line and "default pack" in line)
        await old_session.close()
        await new_session.close()


async def test_sighup_with_a_broken_default_pack_keeps_the_last_good_one_and_logs_why(
    tmp_path: Path,
) -> None:
    folder = write_pack(tmp_path, "main", ["Ada"])
    async with (
        serve_process("--packs-root", str(tmp_path), "--default-pack", "main") as server,
        aiohttp.ClientSession() as http,
    ):
        good = (await health(http, server))["default_pack"]["version"]
        (folder / "ada.toml").write_text('name = "Ada"\nvoice = 3\n', encoding="utf-8")
        server.send_signal(signal.SIGHUP)

        why = await server.wait_for_log(lambda line: "no valid characters" in line)
        assert "'main'" in why
        assert good in why  # names the version new sessions keep getting
        await server.wait_for_log(lambda line: "ada.toml" in line)
        assert (await health(http, server))["default_pack"]["version"] == good
        session = await http.ws_connect(f"{server.base_url}/v1/realtime")
        assert await listed_names(session) == ["Ada"]
        await session.close()

        # Fixed again: the next HUP takes it.
        (folder / "ada.toml").write_text(character_toml("Ada", comment="fixed"), encoding="utf-8")
        server.send_signal(signal.SIGHUP)
        await version_after(http, server, good)


async def test_sighup_when_the_default_pack_folder_is_gone_keeps_the_last_good_one(
    tmp_path: Path,
) -> None:
    folder = write_pack(tmp_path, "main", ["Ada"])
    async with (
        serve_process("--packs-root", str(tmp_path), "--default-pack", "main") as server,
        aiohttp.ClientSession() as http,
    ):
        good = (await health(http, server))["default_pack"]["version"]
        folder.rename(tmp_path / "elsewhere")
        server.send_signal(signal.SIGHUP)
        why = await server.wait_for_log(lambda line: "keep" in line and "'main'" in line)
        assert good in why
        assert (await health(http, server))["default_pack"]["version"] == good


async def test_watch_packs_rereads_the_default_pack_once_its_files_change(
    tmp_path: Path,
) -> None:
    folder = write_pack(tmp_path, "main", ["Ada"])
    async with (
        serve_process(
            "--packs-root", str(tmp_path), "--default-pack", "main", "--watch-packs"
        ) as server,
        aiohttp.ClientSession() as http,
    ):
        before = (await health(http, server))["default_pack"]["version"]
        (folder / "ben.toml").write_text(character_toml("Ben"), encoding="utf-8")
        await version_after(http, server, before)
        session = await http.ws_connect(f"{server.base_url}/v1/realtime")
        assert await listed_names(session) == ["Ada", "Ben"]
        await session.close()


async def test_without_watch_packs_a_change_waits_for_a_sighup(tmp_path: Path) -> None:
    folder = write_pack(tmp_path, "main", ["Ada"])
    async with (
        serve_process("--packs-root", str(tmp_path), "--default-pack", "main") as server,
        aiohttp.ClientSession() as http,
    ):
        before = (await health(http, server))["default_pack"]["version"]
        (folder / "ben.toml").write_text(character_toml("Ben"), encoding="utf-8")
        await asyncio.sleep(3)  # longer than the watcher's debounce would take
        assert (await health(http, server))["default_pack"]["version"] == before
