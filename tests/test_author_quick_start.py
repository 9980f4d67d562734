"""The README's author quick start works as written: its shell commands run, in order, in a
copy of the project, and its two session events reload the new pack on a real server."""

from __future__ import annotations

import asyncio
import json
import re
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.documentation import PROJECT

README = (PROJECT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Author quick start", 1)[1].split("\n## ", 1)[0]
COMMANDS = re.findall(r"```sh\n(.*?)```", SECTION, re.DOTALL)[0]
EVENTS = [json.loads(event) for event in re.findall(r"`(\{\"type\": .*?\})`", SECTION)]

WAIT_SECONDS = 60


def _project_copy(tmp_path: Path) -> Path:
    """The bundled packs, and ``.venv/bin`` as the environment running these tests."""
    copy = tmp_path / "project"
    shutil.copytree(PROJECT / "character_packs", copy / "character_packs")
    shutil.copytree(PROJECT / "schemas", copy / "schemas")
    (copy / ".venv").mkdir()
    (copy / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    assert (copy / ".venv" / "bin" / "unmute-server").exists(), "the project is not installed"
    return copy


def test_the_quick_start_names_lint_show_say_and_a_reload() -> None:
    for command in ("unmute-server lint", "unmute-server show", "unmute-server say"):
        assert f".venv/bin/{command}" in COMMANDS
    assert [event["type"] for event in EVENTS] == ["session.characters.reload", "session.update"]


def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    project = _project_copy(tmp_path)
    completed = subprocess.run(
        ["bash", "-e", "-c", COMMANDS],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS * 2,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "You are Ines" in completed.stdout  # show printed the prompt
    assert "checked 1 file (1 character): no problems" in completed.stderr
    assert (project / "ines.wav").read_bytes()[:4] == b"RIFF"

    server = subprocess.Popen(
        # The events under test need no answers: no embedded model to start.
        [str(project / ".venv" / "bin" / "unmute-server"), "serve", "--port", "0", "--llm", "off"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], WAIT_SECONDS)
        assert ready, "the server printed nothing"
        line = server.stdout.readline()
        url = line.strip().removeprefix("unmute-server listening on ")
        assert url.startswith("http://127.0.0.1:"), line
        websocket = url.replace("http", "ws", 1) + "/v1/realtime"
        reloaded, updated = asyncio.run(_send_events(websocket))
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=WAIT_SECONDS)
    assert reloaded["pack"] == "mypack"
    assert reloaded["error_count"] == 0
    assert [character["name"] for character in reloaded["characters"]] == ["Ines"]
    assert updated["session"]["voice"] == "Ines"


async def _send_events(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    answers = {"session.characters.reload": "session.characters.reloaded"}
    answers["session.update"] = "session.updated"
    received: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as client, client.ws_connect(url) as ws:
        for event in EVENTS:
            await ws.send_json(event)
            while True:
                answer = await ws.receive_json(timeout=WAIT_SECONDS)
                assert answer["type"] != "error", answer
                if answer["type"] == answers[event["type"]]:
                    received.append(answer)
                    break
    return received[0], received[1]
