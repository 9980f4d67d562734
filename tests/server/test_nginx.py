"""Two ``serve`` processes behind Debian's nginx, configured by ``docs/nginx.conf`` itself.

nginx runs unprivileged-port, with a prefix in ``tmp_path``; the documented file is included
as it is, with only its three addresses (the listening one and the two backends) changed to
this test's ports. Each session's handshake names its backend (``X-Unmute-Worker-Pid``).
nginx comes from Debian (``make system-deps`` installs it when root, as CI is); without it
these tests fail rather than skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fake_llm import FakeLLM
from tests.server.conftest import SERVER_SCHEMA, write_pack
from tests.server.serve_process import (
    ServeProcess,
    WorkerNotingClient,
    free_port,
    serve_process,
    stop_process,
)

DOCUMENTED_CONFIG = Path(__file__).resolve().parents[2] / "docs" / "nginx.conf"

#: The addresses docs/nginx.conf names, each replaced by this test's.
DOCUMENTED_LISTEN = "listen 127.0.0.1:8080;"
DOCUMENTED_BACKENDS = ("server 127.0.0.1:8001;", "server 127.0.0.1:8002;")


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.fail(
            "nginx is not installed: run `make system-deps` as root (apt-get install nginx)"
        )
    return found


def site_config(listen_port: int, backends: list[str]) -> str:
    text = DOCUMENTED_CONFIG.read_text(encoding="utf-8")
    assert text.count(DOCUMENTED_LISTEN) == 1
    text = text.replace(DOCUMENTED_LISTEN, f"listen 127.0.0.1:{listen_port};")
    for documented, backend in zip(DOCUMENTED_BACKENDS, backends, strict=True):
        assert text.count(documented) == 1
        text = text.replace(documented, f"server {backend};")
    return text


def write_prefix(prefix: Path, port: int, backends: list[str]) -> None:
    """nginx's own configuration around the documented file, every path inside ``prefix``."""
    prefix.mkdir()
    (prefix / "unmute.conf").write_text(site_config(port, backends), encoding="utf-8")
    (prefix / "nginx.conf").write_text(
        "daemon off;\n"
        "worker_processes 1;\n"
        f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    access_log {prefix}/access.log;\n"
        f"    client_body_temp_path {prefix}/client_body;\n"
        f"    proxy_temp_path {prefix}/proxy;\n"
        f"    fastcgi_temp_path {prefix}/fastcgi;\n"
        f"    uwsgi_temp_path {prefix}/uwsgi;\n"
        f"    scgi_temp_path {prefix}/scgi;\n"
        "    include unmute.conf;\n"
        "}\n",
        encoding="utf-8",
    )


@contextlib.asynccontextmanager
async def nginx(prefix: Path, backends: list[str]) -> AsyncIterator[str]:
    """nginx in the foreground with ``prefix`` for every file it writes; its base URL."""
    port = free_port()
    write_prefix(prefix, port, backends)
    process = await asyncio.create_subprocess_exec(
        nginx_binary(),
        "-p",
        str(prefix),
        "-c",
        str(prefix / "nginx.conf"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            while True:
                if process.returncode is not None:
                    assert process.stderr is not None
                    problem = (await process.stderr.read()).decode()
                    raise AssertionError(f"nginx did not start: {problem}")
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                await writer.wait_closed()
                break
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop_process(process)


async def request(ws: aiohttp.ClientWebSocketResponse, event: dict[str, Any], until: str) -> Any:
    await ws.send_str(json.dumps(event))
    while True:
        answer = json.loads((await ws.receive(timeout=30)).data)
        SERVER_SCHEMA.validate(answer)
        if answer["type"] in (until, "error"):
            return answer


async def converse(ws: aiohttp.ClientWebSocketResponse) -> str:
    """One question and the streamed answer's text."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    await request(
        ws, {"type": "conversation.item.create", "item": item}, "conversation.item.created"
    )
    await ws.send_str(json.dumps({"type": "response.create"}))
    text = ""
    while True:
        event = json.loads((await ws.receive(timeout=30)).data)
        if event["type"] == "response.text.delta":
            text += event["delta"]
        if event["type"] == "response.done":
            assert event["response"]["status"] == "completed", event
            return text


@pytest.fixture
async def backends(tmp_path: Path, fake_llm: FakeLLM) -> AsyncIterator[list[ServeProcess]]:
    packs = tmp_path / "packs"
    write_pack(packs, "main", ["Ada", "Ben"])
    write_pack(packs, "other", ["Cy"])
    env = {"UNMUTE_LLM_URL": fake_llm.base_url, "UNMUTE_LLM_MODEL": "fake-model"}
    arguments = ("--packs-root", str(packs), "--default-pack", "main")
    async with (
        serve_process(*arguments, env=env) as first,
        serve_process(*arguments, env=env) as second,
    ):
        yield [first, second]


async def test_sessions_reloads_and_conversations_work_through_nginx_and_a_stopped_backend_closes_only_its_own(  # noqa: E501
    tmp_path: Path, backends: list[ServeProcess]
) -> None:
    addresses = [server.base_url.removeprefix("http://") for server in backends]
    async with nginx(tmp_path / "nginx", addresses) as public:
        client = WorkerNotingClient()
        async with client.http:
            by_backend: dict[int, list[aiohttp.ClientWebSocketResponse]] = {}
            for _ in range(40):
                pid, ws = await client.connect(public)
                by_backend.setdefault(pid, []).append(ws)
                if len(by_backend) == 2 and all(len(held) >= 2 for held in by_backend.values()):
                    break
            assert set(by_backend) == {server.pid for server in backends}

            for held in by_backend.values():
                for ws in held:
                    listed = await request(
                        ws, {"type": "session.characters.list"}, "session.characters.listed"
                    )
                    assert [c["name"] for c in listed["characters"]] == ["Ada", "Ben"]
                    reloaded = await request(
                        ws,
                        {"type": "session.characters.reload", "pack": "other"},
                        "session.characters.reloaded",
                    )
                    assert reloaded["type"] == "session.characters.reloaded", reloaded
                    assert reloaded["pack"] == "other"
                    assert await converse(ws) == "Hello there."

            async with client.http.get(f"{public}/v1/health") as response:
                assert response.status == 200
                assert (await response.json())["default_pack"]["name"] == "main"

            stopped, survivor = backends
            stopped.send_signal(signal.SIGTERM)
            for ws in by_backend[stopped.pid]:
                message = await ws.receive(timeout=30)
                assert message.type is aiohttp.WSMsgType.CLOSE
                assert message.data == aiohttp.WSCloseCode.GOING_AWAY
            for ws in by_backend[survivor.pid]:
                listed = await request(
                    ws, {"type": "session.characters.list"}, "session.characters.listed"
                )
                assert [c["name"] for c in listed["characters"]] == ["Cy"]
                assert await converse(ws) == "Hello there."
                await ws.close()
            # New sessions go to the backend that is left.
            pid, ws = await client.connect(public)
            assert pid == survivor.pid
            await ws.close()


#: Spellings of ``/metrics`` (and of other paths outside ``/v1/``, ``/page/`` and ``/``) a client
#: might try.
HIDDEN_PATHS = (
    "/metrics",
    "/metrics?format=x",
    "//metrics",
    "/%6Detrics",
    "/v1/../metrics",
    "/page/../metrics",
    "/anything",
)


async def test_metrics_and_anything_outside_v1_are_not_public(
    tmp_path: Path, backends: list[ServeProcess]
) -> None:
    addresses = [server.base_url.removeprefix("http://") for server in backends]
    async with nginx(tmp_path / "nginx", addresses) as public:
        host, port = public.removeprefix("http://").split(":")
        for path in HIDDEN_PATHS:
            # A raw request: an HTTP client would normalise the path before sending it.
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            answer = (await asyncio.wait_for(reader.read(), 30)).decode("latin-1")
            writer.close()
            assert answer.startswith("HTTP/1.1 404"), (path, answer[:200])
            assert "unmute_" not in answer, path
        # The page is public: a person opens the site's address and talks.
        async with aiohttp.ClientSession() as http, http.get(f"{public}/") as response:
            assert response.status == 200
            assert "<html" in (await response.text()).lower()
        # The backends do serve it, to whoever reaches them directly.
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{backends[0].base_url}/metrics") as response,
        ):
            assert "unmute_active_sessions" in await response.text()
