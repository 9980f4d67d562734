"""``unmute-server serve``: settings from flags over environment, refusals, and a real run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import tomli_w

from unmute_server.cli import build_parser
from unmute_server.cli.serve import build_settings
from unmute_server.llm import LLMSettings
from unmute_server.llm.settings import EmbeddedLLMSettings
from unmute_server.server.settings import SettingsError


def test_flags_win_over_environment_which_wins_over_defaults() -> None:
    env = {"UNMUTE_PORT": "9001", "UNMUTE_HOST": "0.0.0.0", "UNMUTE_MAX_SESSIONS": "5"}  # noqa: S104
    settings = build_settings(
        build_parser().parse_args(["serve", "--port", "0", "--default-pack", "classics"]), env
    )
    assert settings.port == 0
    assert settings.host == "0.0.0.0"  # noqa: S104
    assert settings.max_sessions == 5
    assert settings.default_pack == "classics"
    assert settings.packs_root == Path("character_packs")


def test_boolean_flag_overrides_the_variable_both_ways() -> None:
    parser = build_parser()
    on = {"UNMUTE_WS_COMPRESSION": "1"}
    assert build_settings(parser.parse_args(["serve"]), on).ws_compression is True
    assert (
        build_settings(parser.parse_args(["serve", "--no-ws-compression"]), on).ws_compression
        is False
    )
    assert (
        build_settings(parser.parse_args(["serve", "--ws-compression"]), {}).ws_compression is True
    )


def test_bad_flag_values_name_the_flag() -> None:
    with pytest.raises(SettingsError, match="--port 'x': expected a whole number"):
        build_settings(build_parser().parse_args(["serve", "--port", "x"]), {})
    with pytest.raises(SettingsError, match="outbox_limit must be at least 1"):
        build_settings(build_parser().parse_args(["serve", "--outbox-limit", "0"]), {})


SECRET = "sk-never-printed-42"  # noqa: S105 (a fake, to prove it is never shown)


def test_llm_flags_win_over_the_llm_variables() -> None:
    env = {"UNMUTE_LLM_URL": "http://env:1/v1", "UNMUTE_LLM_MODEL": "env-model"}
    args = ["serve", "--llm-url", "http://flag:2/v1", "--llm-api-key", SECRET]
    llm = build_settings(build_parser().parse_args(args), env).llm
    assert isinstance(llm, LLMSettings)
    assert (llm.url, llm.model, llm.api_key) == ("http://flag:2/v1", "env-model", SECRET)


def test_no_llm_flags_or_variables_means_the_embedded_model() -> None:
    assert build_settings(build_parser().parse_args(["serve"]), {}).llm == EmbeddedLLMSettings()


def test_llm_off_flag_means_no_llm() -> None:
    assert build_settings(build_parser().parse_args(["serve", "--llm", "off"]), {}).llm is None


def test_bad_llm_flag_names_the_flag() -> None:
    args = ["serve", "--llm-url", "http://127.0.0.1:9/v1"]
    with pytest.raises(SettingsError, match="--llm-url is set but UNMUTE_LLM_MODEL is not"):
        build_settings(build_parser().parse_args(args), {})


def test_bad_llm_configuration_exits_2_without_showing_the_url_or_key(tmp_path: Path) -> None:
    result = run_serve(
        ["--llm-url", f"ftp://user:{SECRET}@llm/v1", "--llm-model", "m"],
        env={"UNMUTE_LLM_API_KEY": SECRET},
    )
    assert result.returncode == 2
    assert "--llm-url must be an http:// or https:// URL" in result.stderr
    assert SECRET not in result.stderr + result.stdout
    result = run_serve([], env={"UNMUTE_LLM_URL": f"http://user:{SECRET}@llm/v1"})
    assert result.returncode == 2
    assert "UNMUTE_LLM_URL is set but UNMUTE_LLM_MODEL is not" in result.stderr
    assert SECRET not in result.stderr + result.stdout


def write_pack(root: Path, pack: str, names: list[str]) -> None:
    folder = root / pack
    folder.mkdir(parents=True)
    for name in names:
        document = {
            "name": name,
            "voice": {"source_type": "file", "path_on_server": "v.wav"},
            "instructions": {"type": "constant", "text": f"You are {name}."},
        }
        (folder / f"{name.lower()}.toml").write_text(tomli_w.dumps(document))


def no_model(args: list[str], env: dict[str, str]) -> dict[str, str]:
    """``env`` with ``UNMUTE_LLM=off`` unless it or ``args`` name an LLM: a test that does
    not ask for the embedded model does not pay for starting it."""
    if "--llm-url" in args or "--llm" in args or "UNMUTE_LLM_URL" in env:
        return env
    return {"UNMUTE_LLM": "off", **env}


def run_serve(
    args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unmute_server", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **no_model(args, env or {})},
        check=False,
    )


def test_default_pack_without_valid_characters_exits_2_before_listening(tmp_path: Path) -> None:
    (tmp_path / "hollow").mkdir()
    (tmp_path / "hollow" / "x.toml").write_text("name = 3\n")
    result = run_serve(["--packs-root", str(tmp_path), "--default-pack", "hollow", "--port", "0"])
    assert result.returncode == 2
    assert "default pack 'hollow'" in result.stderr
    assert "no valid characters" in result.stderr
    assert "listening" not in result.stdout


def test_bad_environment_value_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = run_serve([], env={"UNMUTE_PORT": "http"})
    assert result.returncode == 2
    assert "UNMUTE_PORT='http': expected a whole number" in result.stderr


def test_a_missing_news_file_exits_2_before_listening(tmp_path: Path) -> None:
    write_pack(tmp_path, "main", ["Ada"])
    missing = tmp_path / "news.txt"
    result = run_serve(
        ["--packs-root", str(tmp_path), "--default-pack", "main", "--port", "0"],
        env={"UNMUTE_NEWS_FILE": str(missing)},
    )
    assert result.returncode == 2
    assert f"news file: {missing}: cannot read the news file" in result.stderr
    assert "listening" not in result.stdout


def test_an_unknown_time_zone_flag_exits_2_naming_it(tmp_path: Path) -> None:
    result = run_serve(["--timezone", "Mars/Olympus"])
    assert result.returncode == 2
    assert "timezone 'Mars/Olympus' is not an IANA time zone" in result.stderr


async def test_serve_prints_the_real_port_serves_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    write_pack(tmp_path, "main", ["Ada", "Ben"])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "unmute_server",
        "serve",
        "--port",
        "0",
        "--packs-root",
        str(tmp_path),
        "--default-pack",
        "main",
        "--llm",
        "off",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
        prefix = "unmute-server listening on http://127.0.0.1:"
        assert line.startswith(prefix), line
        port = int(line.removeprefix(prefix))
        assert port > 0
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(f"http://127.0.0.1:{port}/v1/realtime")
            created = json.loads((await ws.receive(timeout=30)).data)
            assert created["type"] == "session.created"
            await ws.send_str(json.dumps({"type": "session.characters.list"}))
            listed = json.loads((await ws.receive(timeout=30)).data)
            assert [item["name"] for item in listed["characters"]] == ["Ada", "Ben"]
            process.send_signal(signal.SIGTERM)
            closed = await ws.receive(timeout=30)
            assert closed.type is aiohttp.WSMsgType.CLOSE
            assert closed.data == aiohttp.WSCloseCode.GOING_AWAY
        assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_mid_reload_of_a_costly_pack_exits_within_the_shutdown_timeout(
    tmp_path: Path,
) -> None:
    """Whatever is parsing, shutdown takes ``--shutdown-timeout`` plus a few seconds."""
    from tests.characters.costly_packs import write_costly_pack

    write_pack(tmp_path, "main", ["Ada"])
    # Minutes of parsing in all: only a build that is killed lets the process end in time.
    write_costly_pack(tmp_path / "costly", files=200)
    shutdown_timeout = 1.0
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "unmute_server",
        "serve",
        "--port",
        "0",
        "--packs-root",
        str(tmp_path),
        "--default-pack",
        "main",
        "--shutdown-timeout",
        str(shutdown_timeout),
        "--pack-build-cpu-seconds",
        "600",
        "--llm",
        "off",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
        base = "http://" + line.rsplit("http://", 1)[1]
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(f"{base}/v1/realtime")
            await ws.send_str(json.dumps({"type": "session.characters.reload", "pack": "costly"}))
            for _ in range(600):  # until the build runs (the pack's 50 MiB are read first)
                async with http.get(f"{base}/metrics") as response:
                    if "unmute_pack_builds_in_progress 1.0" in await response.text():
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the build never started")
            process.send_signal(signal.SIGTERM)
            started = asyncio.get_running_loop().time()
            assert await asyncio.wait_for(process.wait(), shutdown_timeout + 30) == 0
            assert asyncio.get_running_loop().time() - started < shutdown_timeout + 5
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
