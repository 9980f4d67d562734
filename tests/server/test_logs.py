"""``--log-format``: what a real ``serve`` process writes, read line by line from its stderr.

The server talks to ``tests/fake_llm.py`` with a key and a URL that carries credentials; the
fake answers with an error that quotes both back, the way a real proxy might, so the secrets
reach the code that logs the failure and the tests prove they never reach a line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fake_llm import FakeLLM, StatusReply, StreamReply
from tests.server.conftest import SERVER_SCHEMA, write_pack
from tests.server.serve_process import ServeProcess, serve_process
from unmute_server.server.logs import REDACTED, Redactor

API_KEY = "sk-test-Zq81secretkey"
URL_PASSWORD = "hunter2-Xp9"  # noqa: S105  (the point: it must never be logged)


def llm_env(fake_llm: FakeLLM) -> dict[str, str]:
    with_credentials = fake_llm.base_url.replace("http://", f"http://operator:{URL_PASSWORD}@")
    return {
        "UNMUTE_LLM_URL": with_credentials,
        "UNMUTE_LLM_MODEL": "fake-model",
        "UNMUTE_LLM_API_KEY": API_KEY,
    }


async def converse(server: ServeProcess, fake_llm: FakeLLM) -> None:
    """One answered question and one failed one, then ``/v1/health``."""
    fake_llm.enqueue(
        StreamReply(chunks=["Hello."]),
        StatusReply(500, message=f"upstream refused key {API_KEY} at {fake_llm.base_url}"),
    )
    fake_llm.enqueue(
        StatusReply(500, message=f"see http://operator:{URL_PASSWORD}@127.0.0.1/v1 and {API_KEY}")
    )
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{server.base_url}/v1/realtime")
        for text in ("Hi", "Again", "Once more"):
            item = {"type": "message", "role": "user"}
            item["content"] = [{"type": "input_text", "text": text}]  # type: ignore[assignment]
            await ws.send_str(json.dumps({"type": "conversation.item.create", "item": item}))
            await ws.send_str(json.dumps({"type": "response.create"}))
            while True:
                event: dict[str, Any] = json.loads((await ws.receive(timeout=30)).data)
                SERVER_SCHEMA.validate(event)
                if event["type"] == "response.done":
                    break
        await ws.close()
        async with http.get(f"{server.base_url}/v1/health") as response:
            assert response.status == 200


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    write_pack(tmp_path, "main", ["Ada"])
    return tmp_path


async def test_json_logs_are_one_object_a_line_with_the_session_id_and_access_lines(
    packs: Path, fake_llm: FakeLLM
) -> None:
    async with serve_process(
        "--packs-root",
        str(packs),
        "--default-pack",
        "main",
        "--log-format",
        "json",
        env=llm_env(fake_llm),
    ) as server:
        await converse(server, fake_llm)
        await server.wait_for_log(lambda line: "/v1/health" in line)
        await server.wait_for_log(lambda line: "LLM" in line and "failed" in line)
    records = [json.loads(line) for line in server.logs]  # every line is one object
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
        assert record["time"].endswith("Z")
    failure = next(r for r in records if r["logger"].startswith("unmute_server.llm"))
    assert failure["level"] == "WARNING"
    assert len(failure["session"]) == 8
    access = [r for r in records if r["logger"] == "aiohttp.access"]
    health = next(r for r in access if "GET /v1/health" in r["message"])
    assert health["status"] == 200
    assert "session" not in health
    realtime = next(r for r in access if "GET /v1/realtime" in r["message"])
    assert realtime["session"] == failure["session"]  # the socket's access line names it


async def test_the_text_format_stays_the_default(packs: Path) -> None:
    async with serve_process("--packs-root", str(packs), "--default-pack", "main") as server:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{server.base_url}/v1/health") as response,
        ):
            assert response.status == 200
        await server.wait_for_log(lambda line: "GET /v1/health" in line)
    assert not any(line.startswith("{") for line in server.logs)
    assert any(" INFO aiohttp.access: " in line for line in server.logs)


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_line_holds_the_llm_key_or_the_password_of_a_url(
    packs: Path, fake_llm: FakeLLM, log_format: str
) -> None:
    async with serve_process(
        "--packs-root",
        str(packs),
        "--default-pack",
        "main",
        env={**llm_env(fake_llm), "UNMUTE_LOG_FORMAT": log_format},
    ) as server:
        await converse(server, fake_llm)
        await server.wait_for_log(lambda line: "LLM" in line and "failed" in line)
        await server.wait_for_log(lambda line: "/v1/health" in line)
    output = server.output()
    assert "LLM" in output
    assert API_KEY not in output
    assert URL_PASSWORD not in output
    assert f"operator:{URL_PASSWORD}" not in output


def test_an_unknown_log_format_exits_2_naming_the_choices(packs: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "unmute_server", "serve", "--log-format", "xml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "log_format must be one of text, json, not 'xml'" in result.stderr


def test_the_redactor_replaces_secrets_as_written_and_as_json_escapes_them() -> None:
    redact = Redactor(['ab"c', "abcd", ""])
    assert redact('key ab"c and abcd') == f"key {REDACTED} and {REDACTED}"
    assert redact(json.dumps({"m": 'ab"c'})) == json.dumps({"m": REDACTED})
    assert redact("see ws://me:p4ss@host:8080/x and http://host/y") == (
        f"see ws://me:{REDACTED}@host:8080/x and http://host/y"
    )
