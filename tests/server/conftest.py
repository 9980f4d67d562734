"""Server test fixtures: real packs in ``tmp_path``, a real server on loopback, real clients.

Every event a test sends or receives through :class:`Realtime` is validated against the
committed JSON Schemas (``schemas/client-events.schema.json`` and
``schemas/server-events.schema.json``) with ``jsonschema``, so the tests also prove that
the schemas describe the wire.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
import tomli_w
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.fake_llm import FakeLLM, start_fake_llm
from unmute_server.llm import LLMSettings
from unmute_server.server.app import app_runner, create_app
from unmute_server.server.settings import Settings

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

Json = dict[str, Any]
#: Events in arrival order (a name of its own: ``Realtime.list`` shadows ``list`` in its body).
Events = list[Json]


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


CLIENT_SCHEMA = _validator("client-events.schema.json")
SERVER_SCHEMA = _validator("server-events.schema.json")
GA_SERVER_SCHEMA = _validator("server-events-ga.schema.json")


# --------------------------------------------------------------------------- packs


def character_toml(
    name: str, *, good: bool = False, comment: str | None = None, text: str | None = None
) -> str:
    document: dict[str, Any] = {"name": name, "good": good}
    if comment is not None:
        document["comment"] = comment
    document["voice"] = {"source_type": "file", "path_on_server": f"voices/{name.lower()}.wav"}
    document["instructions"] = {"type": "constant", "text": text or f"You are {name}."}
    return tomli_w.dumps(document)


def write_pack(root: Path, pack: str, names: Iterable[str], **files: str) -> Path:
    """A pack folder ``root/pack`` with one TOML file per name, plus ``files`` as given."""
    folder = root / pack
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name.lower()}.toml").write_text(character_toml(name), encoding="utf-8")
    for file_name, text in files.items():
        (folder / file_name.replace("__", ".")).write_text(text, encoding="utf-8")
    return folder


def write_heavy_pack(packs_root: Path) -> None:
    """A pack ``heavy`` whose listing is about 400 KiB, so a few unread answers fill any
    buffer."""
    folder = packs_root / "heavy"
    folder.mkdir()
    for index in range(200):
        name = f"Heavy{index:03d}"
        text = character_toml(name, comment=f"{name} " + "words " * 330)
        (folder / f"{name.lower()}.toml").write_text(text)


DEFAULT_NAMES = ("Alice", "Bob")
SECOND_NAMES = ("Carol", "Dave", "Eve")


@pytest.fixture
def packs_root(tmp_path: Path) -> Path:
    """``default`` (Alice, Bob), ``second`` (Carol, Dave, Eve), ``broken`` (Fay and a bad
    file), ``empty`` (nothing valid)."""
    root = tmp_path / "packs"
    write_pack(root, "default", DEFAULT_NAMES)
    write_pack(root, "second", SECOND_NAMES)
    write_pack(root, "broken", ["Fay"], bad__toml='name = "Gus"\nvoice = 3\n')
    write_pack(root, "empty", [], only__toml="this is not toml\n")
    return root


@pytest.fixture
def settings(packs_root: Path) -> Settings:
    return Settings(port=0, packs_root=packs_root, default_pack="default")


# --------------------------------------------------------------------------- clients


class Realtime:
    """A WebSocket client of ``/v1/realtime`` that validates every event against the schemas."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        schema: jsonschema.protocols.Validator = SERVER_SCHEMA,
    ) -> None:
        self.ws = ws
        #: The committed schema of the dialect this client speaks.
        self.schema = schema
        #: The ``session.created`` the server sent on connect.
        self.created: Json = {}

    async def send(self, event: Json) -> None:
        CLIENT_SCHEMA.validate(event)
        await self.ws.send_str(json.dumps(event))

    async def send_raw(self, text: str) -> None:
        """Send text that is not a valid event (it is the point of the test)."""
        await self.ws.send_str(text)

    async def receive(self) -> Json:
        message = await self.ws.receive(timeout=30)
        assert message.type is aiohttp.WSMsgType.TEXT, (message.type, message.data)
        event: Json = json.loads(message.data)
        self.schema.validate(event)
        return event

    async def request(self, event: Json) -> Json:
        await self.send(event)
        return await self.receive()

    async def list(self) -> Json:
        return await self.request({"type": "session.characters.list"})

    async def reload(self, pack: str, **fields: Any) -> Json:
        return await self.request({"type": "session.characters.reload", "pack": pack, **fields})

    async def update(self, **session: Any) -> Json:
        return await self.request({"type": "session.update", "session": session})

    async def say(self, text: str, item_id: str | None = None, **fields: Any) -> Json:
        """Add a user text message; the answer (``conversation.item.created`` or ``error``)."""
        item: Json = {"type": "message", "role": "user"}
        if item_id is not None:
            item["id"] = item_id
        item["content"] = [{"type": "input_text", "text": text}]
        return await self.request({"type": "conversation.item.create", "item": item, **fields})

    async def receive_until(self, event_type: str) -> Events:
        """Every event up to and including the first of ``event_type``."""
        events: Events = []
        while True:
            event = await self.receive()
            events.append(event)
            if event["type"] == event_type:
                return events

    async def respond(self, **fields: Any) -> Events:
        """``response.create``, then every event up to its ``response.done`` (and a failure's
        ``error``, which follows it)."""
        await self.send({"type": "response.create", **fields})
        events = await self.receive_until("response.done")
        if events[-1]["response"]["status"] == "failed":
            events.append(await self.receive())
        return events

    async def close_message(self) -> aiohttp.WSMessage:
        """Read until the server's close; the close message (``data`` is its code)."""
        while True:
            message = await self.ws.receive(timeout=30)
            if message.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
            ):
                return message
            if message.type is aiohttp.WSMsgType.ERROR:
                return message


async def opened(
    ws: aiohttp.ClientWebSocketResponse, schema: jsonschema.protocols.Validator = SERVER_SCHEMA
) -> Realtime:
    """The session on ``ws``, past the ``session.created`` every connection starts with."""
    client = Realtime(ws, schema)
    client.created = await client.receive()
    assert client.created["type"] == "session.created", client.created
    return client


Connect = Callable[[], Awaitable[Realtime]]


@dataclass
class Server:
    """A running application and a way to open sessions on it."""

    app: web.Application
    client: TestClient[web.Request, web.Application]

    async def connect(
        self,
        path: str = "/v1/realtime",
        schema: jsonschema.protocols.Validator = SERVER_SCHEMA,
        **kwargs: Any,
    ) -> Realtime:
        """A session, past the ``session.created`` every connection starts with; every event
        is checked against ``schema`` (the beta dialect's unless told)."""
        return await opened(await self.client.ws_connect(path, **kwargs), schema)

    async def metrics(self) -> str:
        """This process's Prometheus text, as ``GET /metrics`` serves it."""
        response = await self.client.get("/metrics")
        assert response.status == 200
        return await response.text()

    async def get_json(self, path: str) -> Any:
        response = await self.client.get(path)
        assert response.status == 200
        return await response.json()


MakeServer = Callable[..., Awaitable[Server]]


@pytest.fixture
def make_server(aiohttp_client: AiohttpClient, settings: Settings) -> MakeServer:
    """Start a server with ``settings`` changed by the keyword arguments given."""

    async def make(**changes: Any) -> Server:
        app = create_app(settings.replace(**changes))
        client = await aiohttp_client(app)
        return Server(app, client)

    return make


@pytest.fixture
async def server(make_server: MakeServer) -> Server:
    return await make_server()


@pytest.fixture
async def fake_llm(aiohttp_server: AiohttpServer) -> FakeLLM:
    """An OpenAI-compatible chat server on loopback that streams "Hello there." by default."""
    return await start_fake_llm(aiohttp_server)


FAKE_MODEL = "fake-model"


@pytest.fixture
def make_llm_server(make_server: MakeServer, fake_llm: FakeLLM) -> MakeServer:
    """Start a server whose LLM is ``fake_llm``; keyword arguments change the LLM settings."""

    async def make(**llm_changes: Any) -> Server:
        fields: dict[str, Any] = {"url": fake_llm.base_url, "model": FAKE_MODEL, **llm_changes}
        return await make_server(llm=LLMSettings(**fields))

    return make


MakeTestServer = Callable[..., Awaitable[TestServer]]


@pytest.fixture
def make_test_server(aiohttp_server: AiohttpServer, settings: Settings) -> MakeTestServer:
    """A bare test server (no client session), for tests that stop the server themselves."""

    async def make(**changes: Any) -> TestServer:
        return await aiohttp_server(create_app(settings.replace(**changes)))

    return make


async def until(condition: Callable[[], bool], what: str, *, polls: int = 3000) -> None:
    """Wait for ``condition`` (something another task does), checking every 5 ms.

    Bounded by a number of polls rather than a clock, and it fails naming ``what``.
    """
    for _ in range(polls):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"gave up waiting: {what}")


def conversation_tasks() -> list[asyncio.Task[Any]]:
    """Response tasks still alive (the conversation names them ``conversation resp_...``)."""
    return [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith("conversation ") and not task.done()
    ]


# --------------------------------------------------------------------------- metrics


def sample_in(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """One sample's value in Prometheus ``text``; 0 when absent."""
    wanted = labels or {}
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in wanted.items()):
                return float(found.value)
    return 0.0


# --------------------------------------------------------------------------- raw sockets


#: A kernel socket buffer as on a slow link or under memory pressure: buffers fill sooner
#: than with what loopback allows (tens of MB).
SMALL_SOCKET_BUFFER = 64 * 1024


class RawWebSocket:
    """A hand-made WebSocket client on a plain socket: it reads only when told to.

    For what a well-behaved client library will not do: vanish mid-reload, or never answer
    a close.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        path: str = "/v1/realtime",
        receive_buffer: int | None = None,
    ) -> RawWebSocket:
        """Open the WebSocket; ``receive_buffer`` caps the kernel's receive buffer (bytes), as
        on a slow link, instead of letting it grow to what loopback allows (tens of MB)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    def send_text(self, text: str) -> None:
        self.send_frame(0x1, text.encode())

    def send_frame(self, opcode: int, payload: bytes) -> None:
        """One final, masked frame (``0x1`` text, ``0x9`` ping, ``0x8`` close...)."""
        mask = os.urandom(4)
        header = bytearray([0x80 | opcode])
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        elif len(payload) < 1 << 16:
            header.append(0x80 | 126)
            header += len(payload).to_bytes(2, "big")
        else:
            header.append(0x80 | 127)
            header += len(payload).to_bytes(8, "big")
        size = len(payload)
        key = (mask * (size // 4 + 1))[:size]
        masked = (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(
            size, "little"
        )
        self.writer.write(bytes(header) + mask + masked)

    async def read_frame(self) -> tuple[int, bytes]:
        """The next frame's opcode and payload (server frames are not masked)."""
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return first & 0x0F, await self.reader.readexactly(length)

    def abort(self) -> None:
        self.writer.transport.abort()


@dataclass
class Served:
    """An application run as ``unmute-server serve`` runs it (:func:`app_runner`)."""

    app: web.Application
    port: int


Serve = Callable[..., Awaitable[Served]]


@pytest.fixture
async def serve_app(settings: Settings) -> AsyncIterator[Serve]:
    """Start applications with the production runner on loopback; cleaned up at the end.

    Unlike aiohttp's test server, this runner does not cancel a handler whose client went
    away (``handler_cancellation`` is off, as in ``serve``), and it has the header timeout.
    """
    runners: list[web.AppRunner] = []

    async def start(**changes: Any) -> Served:
        runner = app_runner(settings.replace(**changes))
        runners.append(runner)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return Served(runner.app, runner.addresses[0][1])

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def raw_sockets() -> AsyncIterator[list[RawWebSocket]]:
    """Raw sockets a test opens; aborted at the end whatever happened."""
    opened: list[RawWebSocket] = []
    yield opened
    for raw in opened:
        raw.abort()
