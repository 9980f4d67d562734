"""One simulated session against real aiohttp servers on loopback that answer in set ways.

Each server here answers every text frame with one fixed reply (or closes), so a test
decides what the client sees and checks how the client counts it.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from pytest_aiohttp import AiohttpServer

from unmute_server.loadtest.client import VoiceClient
from unmute_server.loadtest.mix import Action, ActionKind
from unmute_server.loadtest.stats import Tally

Reply = Callable[[dict[str, Any]], dict[str, Any] | None]
Connected = Callable[[Reply], Awaitable[tuple[VoiceClient, Tally]]]


@pytest.fixture
async def connected(aiohttp_server: AiohttpServer) -> AsyncIterator[Connected]:
    """A client connected to a server that answers each event with ``reply(event)``
    (``None``: close the connection instead)."""
    sessions: list[aiohttp.ClientSession] = []

    async def start(reply: Reply) -> tuple[VoiceClient, Tally]:
        async def realtime(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    answer = reply(json.loads(message.data))
                    if answer is None:
                        await ws.close()
                        break
                    await ws.send_str(json.dumps(answer))
            return ws

        app = web.Application()
        app.router.add_get("/v1/realtime", realtime)
        server = await aiohttp_server(app)
        http = aiohttp.ClientSession()
        sessions.append(http)
        tally = Tally()
        client = VoiceClient(0, tally, answer_timeout=10.0, pacer=None)
        url = str(server.make_url("/v1/realtime")).replace("http://", "ws://")
        assert await client.connect(http, url, compression=True, within=10.0)
        return client, tally

    yield start
    for http in sessions:
        await http.close()


def listed(*names: str) -> dict[str, Any]:
    return {
        "type": "session.characters.listed",
        "characters": [{"name": name, "good": True, "comment": None} for name in names],
    }


async def test_a_list_answer_gives_the_names_an_update_chooses_from(connected: Connected) -> None:
    client, tally = await connected(lambda event: listed("Ann", "Bo"))
    assert await client.perform(Action(ActionKind.LIST))
    assert client.characters == ["Ann", "Bo"]
    assert tally.answered == {ActionKind.LIST: 1}
    assert not tally.errors
    await client.close()
    assert tally.closed_sessions == 1


async def test_an_error_answer_is_counted_under_its_code(connected: Connected) -> None:
    def reply(event: dict[str, Any]) -> dict[str, Any]:
        return {"type": "error", "error": {"code": "rate_limited", "event_id": event["event_id"]}}

    client, tally = await connected(reply)
    assert await client.perform(Action(ActionKind.RELOAD, pack="b"))
    assert tally.errors == {"rate_limited": 1}
    await client.close()


async def test_an_error_naming_another_event_is_a_mismatch(connected: Connected) -> None:
    client, tally = await connected(
        lambda event: {"type": "error", "error": {"code": "invalid_event", "event_id": "other"}}
    )
    assert await client.perform(Action(ActionKind.LIST))
    assert tally.errors == {"invalid_event": 1, "mismatched_answer": 1}
    await client.close()


async def test_an_answer_of_the_wrong_type_is_a_mismatch(connected: Connected) -> None:
    client, tally = await connected(lambda event: listed("Ann"))
    assert await client.perform(Action(ActionKind.UPDATE))
    assert tally.errors == {"mismatched_answer": 1}
    await client.close()


async def test_an_answer_that_is_not_json_is_counted(connected: Connected) -> None:
    client, tally = await connected(lambda event: "not an object")  # type: ignore[arg-type,return-value]
    assert await client.perform(Action(ActionKind.LIST))
    assert tally.errors == {"answer_not_object": 1}
    await client.close()


async def test_a_server_closing_instead_of_answering_ends_the_session(
    connected: Connected,
) -> None:
    client, tally = await connected(lambda event: None)
    assert not await client.perform(Action(ActionKind.LIST))
    assert tally.errors == {"connection_closed": 1}
    assert tally.total_sent == 1
    assert tally.total_answered == 0
    assert not await client.perform(Action(ActionKind.LIST))
    await client.close()


async def test_a_refused_connection_is_counted_by_reason() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tally = Tally()
    client = VoiceClient(0, tally, answer_timeout=1.0, pacer=None)
    async with aiohttp.ClientSession() as http:
        ok = await client.connect(
            http, f"ws://127.0.0.1:{port}/v1/realtime", compression=False, within=10.0
        )
    assert not ok
    assert tally.connects_attempted == 1
    assert tally.connect_failures == {"connect_econnrefused": 1}


async def test_a_refused_handshake_is_counted_with_its_status(
    aiohttp_server: AiohttpServer,
) -> None:
    server = await aiohttp_server(web.Application())  # no route: 404
    tally = Tally()
    client = VoiceClient(0, tally, answer_timeout=1.0, pacer=None)
    url = str(server.make_url("/v1/realtime")).replace("http://", "ws://")
    async with aiohttp.ClientSession() as http:
        assert not await client.connect(http, url, compression=True, within=10.0)
    assert tally.connect_failures == {"handshake_404": 1}
