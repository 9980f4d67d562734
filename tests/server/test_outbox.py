"""The bounded writer: a client that stops reading is cut off with 1008, and only that one."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import psutil  # type: ignore[import-untyped]  # no stubs in the test extras
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from tests.fake_llm import FakeLLM, StreamReply
from tests.server.conftest import (
    DEFAULT_NAMES,
    FAKE_MODEL,
    SMALL_SOCKET_BUFFER,
    Json,
    MakeServer,
    RawWebSocket,
    Realtime,
    Server,
    conversation_tasks,
    sample_in,
    until,
    write_heavy_pack,
)
from unmute_server.llm import LLMSettings
from unmute_server.server.outbox import Outbox
from unmute_server.server.state import SESSIONS

REQUESTS = 200


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


OutboxUse = Callable[[Outbox, web.WebSocketResponse], Awaitable[None]]


def outbox_app(use: OutboxUse, *, compress: bool = False, **limits: Any) -> web.Application:
    """An application whose ``/ws`` handler gives a real :class:`Outbox` on its real socket to
    ``use``, then waits for the client to go. ``limits`` override the outbox's defaults."""
    settings: dict[str, Any] = {"limit": 100_000, "byte_limit": 1 << 40, "grace": 10.0}
    settings.update(limits)

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=compress)
        await ws.prepare(request)
        assert request.transport is not None
        outbox = Outbox(ws, request.transport, **settings)
        await use(outbox, ws)
        async for _message in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    return app


def numbered_frame(index: int, size: int = 0) -> bytes:
    return json.dumps({"n": index, "pad": "p" * size}).encode()


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
async def test_frames_put_in_a_row_arrive_in_order(
    aiohttp_client: AiohttpClient, compress: bool
) -> None:
    async def put_fifty(outbox: Outbox, ws: web.WebSocketResponse) -> None:
        for index in range(50):
            assert outbox.put(numbered_frame(index))
        await outbox.flush()
        await ws.close()

    client = await aiohttp_client(outbox_app(put_fifty, compress=compress))
    ws = await client.ws_connect("/ws", compress=15 if compress else 0)
    received = [json.loads(message.data)["n"] async for message in ws]
    assert received == list(range(50))


async def test_many_large_frames_reach_a_reader_that_pauses_and_resumes(
    aiohttp_client: AiohttpClient,
) -> None:
    # Sizes from a few bytes to 400 KB, so frames end both inside and across the socket
    # buffers' limits while the reader is paused.
    sizes = [(index * 7919) % 400_000 for index in range(300)]

    async def put_all(outbox: Outbox, ws: web.WebSocketResponse) -> None:
        for index, size in enumerate(sizes):
            assert outbox.put(numbered_frame(index, size))
            if index % 40 == 0:
                await asyncio.sleep(0)  # let the writer start part-way through
        await outbox.flush()
        await ws.close()

    client = await aiohttp_client(outbox_app(put_all))
    ws = await client.ws_connect("/ws", max_msg_size=0)
    received: list[int] = []
    async for message in ws:
        event = json.loads(message.data)
        assert len(event["pad"]) == sizes[event["n"]]
        received.append(event["n"])
        if len(received) % 50 == 0:
            await asyncio.sleep(0.3)  # the reader pauses; the server's buffers fill
    assert received == list(range(len(sizes)))


async def test_the_event_limit_is_exact(aiohttp_client: AiohttpClient) -> None:
    results: list[bool] = []

    async def fill(outbox: Outbox, ws: web.WebSocketResponse) -> None:
        # No pause between puts: the writer has not taken any yet, so all of them wait.
        results.extend(outbox.put(numbered_frame(index)) for index in range(6))

    client = await aiohttp_client(outbox_app(fill, limit=5))
    ws = await client.ws_connect("/ws")
    await until(lambda: len(results) == 6, "the handler to put its frames")
    assert results == [True] * 5 + [False]
    await ws.close()


async def test_the_byte_limit_counts_what_the_transport_still_holds(
    aiohttp_client: AiohttpClient, raw_sockets: list[RawWebSocket]
) -> None:
    seen: list[tuple[int, bool]] = []
    limit = 1_000_000

    async def overfill(outbox: Outbox, ws: web.WebSocketResponse) -> None:
        # A small kernel send buffer, as under memory pressure, so that what the client
        # does not read stays with the transport rather than in the kernel.
        sock = ws.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_SOCKET_BUFFER)
        # One frame over the limit goes in (nothing waited before it) and is handed to the
        # transport, which cannot pass it on to a client that does not read.
        assert outbox.put(numbered_frame(0, 4 * limit))
        await until(lambda: len(outbox) == 0, "the writer to take the frame")
        seen.append((outbox.waiting_bytes, outbox.put(numbered_frame(1))))

    client = await aiohttp_client(outbox_app(overfill, byte_limit=limit))
    assert client.port is not None
    raw = await RawWebSocket.connect(
        "127.0.0.1", client.port, path="/ws", receive_buffer=SMALL_SOCKET_BUFFER
    )
    raw_sockets.append(raw)
    await until(lambda: bool(seen), "the second put")
    waiting, accepted = seen[0]
    assert waiting >= limit
    assert not accepted


async def test_a_lost_peer_leaves_nothing_waiting(
    aiohttp_client: AiohttpClient, raw_sockets: list[RawWebSocket]
) -> None:
    outboxes: list[Outbox] = []

    async def fill(outbox: Outbox, ws: web.WebSocketResponse) -> None:
        outboxes.append(outbox)
        for index in range(40):
            assert outbox.put(numbered_frame(index, 200_000))

    client = await aiohttp_client(outbox_app(fill))
    assert client.port is not None
    raw = await RawWebSocket.connect(
        "127.0.0.1", client.port, path="/ws", receive_buffer=SMALL_SOCKET_BUFFER
    )
    raw_sockets.append(raw)
    await until(lambda: bool(outboxes), "the handler to fill its outbox")
    outbox = outboxes[0]
    await until(lambda: outbox.waiting_bytes > 0 and len(outbox) > 0, "frames to wait")
    raw.abort()
    await until(lambda: len(outbox) == 0, "the lost peer's frames to be dropped")
    assert outbox.waiting_bytes == 0
    assert outbox.put(numbered_frame(99))  # dropped: nobody is left to read it
    assert len(outbox) == 0


# --------------------------------------------------------------------------- no answer lost


def long_instructions(index: int) -> str:
    """About 900 KB of instructions, different for each index (so order is visible)."""
    return f"[{index}] " + "say little. " * 75_000


async def test_large_pipelined_answers_all_arrive_in_order(
    server: Server, raw_sockets: list[RawWebSocket]
) -> None:
    assert server.client.port is not None
    client = await RawWebSocket.connect(
        "127.0.0.1", server.client.port, receive_buffer=SMALL_SOCKET_BUFFER
    )
    raw_sockets.append(client)
    assert (await read_event(client))["type"] == "session.created"
    for index in range(8):
        update = {"instructions": long_instructions(index)}
        client.send_text(json.dumps({"type": "session.update", "session": update}))
        await client.writer.drain()
    for _ in range(3):
        client.send_text('{"type": "session.characters.list"}')
    await client.writer.drain()
    # Only now read: every answer, in the order asked.
    answers = [await read_event(client) for _ in range(11)]
    assert [answer["type"] for answer in answers] == ["session.updated"] * 8 + [
        "session.characters.listed"
    ] * 3
    for index, answer in enumerate(answers[:8]):
        assert answer["session"]["instructions"] == long_instructions(index)


async def read_event(client: RawWebSocket) -> Json:
    """The next text frame's event (read with a generous bound)."""
    opcode, payload = await asyncio.wait_for(client.read_frame(), 30)
    assert opcode == 0x1, (opcode, payload[:200])
    event: Json = json.loads(payload)
    return event


async def test_a_huge_llm_delta_is_followed_by_its_response_done(
    make_llm_server: MakeServer, fake_llm: FakeLLM, raw_sockets: list[RawWebSocket]
) -> None:
    # The whole text travels five times (the delta, text.done, content_part.done,
    # output_item.done, response.done), the last four in one burst: 2.5 MB keeps that burst
    # within the default 16 MiB a client may leave unread.
    text = "x" * 2_500_000
    fake_llm.enqueue(StreamReply(chunks=[text]))
    server = await make_llm_server()
    assert server.client.port is not None
    client = await RawWebSocket.connect(
        "127.0.0.1", server.client.port, receive_buffer=SMALL_SOCKET_BUFFER
    )
    raw_sockets.append(client)
    assert (await read_event(client))["type"] == "session.created"
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}
    client.send_text(json.dumps({"type": "conversation.item.create", "item": item}))
    client.send_text('{"type": "response.create"}')
    events = [await read_event(client) for _ in range(10)]
    assert [event["type"] for event in events] == [
        "conversation.item.created",
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
        "response.text.delta",
        "response.text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    assert events[5]["delta"] == text
    assert events[9]["response"]["status"] == "completed"
    assert events[9]["response"]["output"][0]["content"][0]["text"] == text
    # The session is still usable afterwards.
    client.send_text('{"type": "session.characters.list"}')
    assert (await read_event(client))["type"] == "session.characters.listed"


# --------------------------------------------------------------------------- slow clients


def server_side_sockets(server_port: int, client: RawWebSocket) -> list[Any]:
    """The server's end of ``client``'s connection, if this process still has it open."""
    client_port = client.writer.get_extra_info("sockname")[1]
    return [
        connection
        for connection in psutil.Process().net_connections("tcp")
        if connection.laddr
        and connection.laddr.port == server_port
        and connection.raddr
        and connection.raddr.port == client_port
    ]


async def flood_with_lists(server: Server, requests: int = REQUESTS) -> RawWebSocket:
    """A raw client on a small receive buffer that switched to the heavy pack and then asked
    for ``requests`` listings (about 400 KiB each) without reading any."""
    assert server.client.port is not None
    client = await RawWebSocket.connect(
        "127.0.0.1", server.client.port, receive_buffer=SMALL_SOCKET_BUFFER
    )
    assert (await read_event(client))["type"] == "session.created"
    client.send_text('{"type": "session.characters.reload", "pack": "heavy"}')
    assert (await read_event(client))["type"] == "session.characters.reloaded"
    for _ in range(requests):
        client.send_text('{"type": "session.characters.list"}')
    await client.writer.drain()
    return client


async def test_a_client_that_never_reads_leaves_its_slot_at_once_and_its_socket_in_bounds(
    make_server: MakeServer, packs_root: Path, raw_sockets: list[RawWebSocket]
) -> None:
    write_heavy_pack(packs_root)
    server = await make_server(close_timeout=3)
    assert server.client.port is not None
    port = server.client.port
    client = await flood_with_lists(server)
    raw_sockets.append(client)
    # Cut off by the byte limit (16 MiB is about 40 listings); its place is free at once...
    await until(lambda: len(server.app[SESSIONS]) == 0, "the slow session to be cut off")
    assert (await server.get_json("/v1/health"))["sessions"] == 0
    # ...while its socket waits for it to read the close (it never will)...
    assert server_side_sockets(port, client)
    # ...and is aborted once the close timeout has passed.
    await until(lambda: not server_side_sockets(port, client), "the socket to be aborted")


async def test_a_client_that_pauses_then_reads_gets_its_answers_then_close_1008(
    make_server: MakeServer, packs_root: Path, raw_sockets: list[RawWebSocket]
) -> None:
    write_heavy_pack(packs_root)
    server = await make_server()  # the default close timeout, 10 s
    client = await flood_with_lists(server)
    raw_sockets.append(client)
    await until(lambda: len(server.app[SESSIONS]) == 0, "the slow session to be cut off")
    await asyncio.sleep(3)  # the client pauses, then reads again
    delivered = 0
    while True:
        opcode, payload = await asyncio.wait_for(client.read_frame(), 30)
        if opcode != 0x1:
            break
        assert json.loads(payload)["character_count"] == 200
        delivered += 1
    assert opcode == 0x8
    assert int.from_bytes(payload[:2], "big") == aiohttp.WSCloseCode.POLICY_VIOLATION
    assert payload[2:] == b"client too slow"
    assert 0 < delivered < REQUESTS


async def test_a_client_cut_off_mid_stream_leaves_health_and_is_aborted_in_bounds(
    make_server: MakeServer, fake_llm: FakeLLM, raw_sockets: list[RawWebSocket]
) -> None:
    # About 16 MiB of deltas: far more than the buffers hold while nobody reads.
    fake_llm.enqueue(StreamReply(chunks=["x" * 32768] * 512))
    llm = LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL)
    server = await make_server(llm=llm, outbox_limit_bytes=1_000_000, close_timeout=3)
    assert server.client.port is not None
    port = server.client.port
    client = await RawWebSocket.connect("127.0.0.1", port, receive_buffer=SMALL_SOCKET_BUFFER)
    raw_sockets.append(client)
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}
    client.send_text(json.dumps({"type": "conversation.item.create", "item": item}))
    client.send_text(json.dumps({"type": "response.create"}))
    await fake_llm.wait_until(lambda: bool(fake_llm.requests) and fake_llm.requests[0].disconnected)
    await until(lambda: len(server.app[SESSIONS]) == 0, "the slow session to be cut off")
    assert (await server.get_json("/v1/health"))["sessions"] == 0
    await until(lambda: not server_side_sockets(port, client), "the socket to be aborted")
    await until(lambda: not conversation_tasks(), "the response task to end")
