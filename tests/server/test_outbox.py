"""The bounded writer: a client that stops reading is cut off with 1008, and only that one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import WSMsgType, web
from pytest_aiohttp import AiohttpClient

from tests.server.conftest import (
    DEFAULT_NAMES,
    MakeServer,
    Realtime,
    character_toml,
    sample_in,
    until,
)
from unmute_server.outbox import Outbox
from unmute_server.state import SESSIONS

REQUESTS = 200


def write_heavy_pack(packs_root: Path) -> None:
    """A pack whose listing is about 400 KiB, so a few unread answers fill any buffer."""
    folder = packs_root / "heavy"
    folder.mkdir()
    for index in range(200):
        name = f"Heavy{index:03d}"
        text = character_toml(name, comment=f"{name} " + "words " * 330)
        (folder / f"{name.lower()}.toml").write_text(text)


async def read_until_close(client: Realtime) -> tuple[int, aiohttp.WSMessage]:
    """How many events arrived before the close, and the close itself."""
    events = 0
    while True:
        message = await client.ws.receive(timeout=60)
        if message.type is not aiohttp.WSMsgType.TEXT:
            return events, message
        events += 1


async def test_client_that_stops_reading_is_closed_with_1008_and_others_carry_on(
    make_server: MakeServer, packs_root: Path
) -> None:
    write_heavy_pack(packs_root)
    server = await make_server(outbox_limit=2)
    before = await server.metrics()
    bystander = await server.connect()
    slow = await server.connect()
    assert (await slow.reload("heavy"))["loaded_count"] == 200
    # Ask for far more than the socket buffers hold, and read nothing yet.
    for _ in range(REQUESTS):
        await slow.send({"type": "session.characters.list"})
    # Another session is answered meanwhile.
    listed = await bystander.list()
    assert [item["name"] for item in listed["characters"]] == list(DEFAULT_NAMES)

    delivered, closed = await read_until_close(slow)
    assert closed.type is aiohttp.WSMsgType.CLOSE
    assert closed.data == aiohttp.WSCloseCode.POLICY_VIOLATION
    assert closed.extra == "client too slow"
    assert delivered < REQUESTS

    assert (await bystander.list())["pack"] == "default"
    await until(lambda: len(server.app[SESSIONS]) == 1, "the slow session to end")
    after = await server.metrics()
    closes = "unmute_websocket_closes_total"
    assert (
        sample_in(after, closes, {"code": "1008"})
        == sample_in(before, closes, {"code": "1008"}) + 1
    )


async def test_a_reader_that_keeps_up_gets_every_answer_in_order(
    make_server: MakeServer, packs_root: Path
) -> None:
    write_heavy_pack(packs_root)
    server = await make_server(outbox_limit=2)
    client = await server.connect()
    await client.reload("heavy")
    for index in range(20):
        await client.send({"type": "session.characters.list", "event_id": str(index)})
        listed = await client.receive()
        assert listed["character_count"] == 200
    assert (await client.reload("default"))["pack"] == "default"


async def _outbox_server(
    aiohttp_client: AiohttpClient, *, compress: bool, frames: int
) -> tuple[list[int], list[str]]:
    """A real handler that puts ``frames`` frames in a row; the tasks each put left behind,
    and the texts a real client received."""
    tasks_added: list[int] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=compress)
        await ws.prepare(request)
        outbox = Outbox(ws, limit=1000, transport=request.transport)
        for index in range(frames):
            before = len(asyncio.all_tasks())
            assert outbox.put(f'{{"n": {index}}}'.encode())
            tasks_added.append(len(asyncio.all_tasks()) - before)
        await outbox.flush()
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/ws", compress=15 if compress else 0)
    received = [message.data async for message in ws if message.type is WSMsgType.TEXT]
    return tasks_added, received


async def test_an_idle_uncompressed_socket_is_written_at_once_without_a_task(
    aiohttp_client: AiohttpClient,
) -> None:
    tasks_added, received = await _outbox_server(aiohttp_client, compress=False, frames=50)
    assert tasks_added == [0] * 50
    assert received == [f'{{"n": {index}}}' for index in range(50)]


async def test_a_compressed_socket_goes_through_the_writer_task_in_order(
    aiohttp_client: AiohttpClient,
) -> None:
    tasks_added, received = await _outbox_server(aiohttp_client, compress=True, frames=50)
    assert tasks_added[0] == 1  # the writer task, made for the first frame and reused
    assert received == [f'{{"n": {index}}}' for index in range(50)]
