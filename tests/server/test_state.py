"""The session hub: shutdown closes every socket, and a peer that never answers cannot hold it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from prometheus_client import generate_latest

from tests.server.conftest import (
    SMALL_SOCKET_BUFFER,
    MakeTestServer,
    RawWebSocket,
    sample_in,
    until,
    write_heavy_pack,
)
from unmute_server.server.state import SESSIONS


async def test_shutdown_sends_1001_to_every_client_even_one_that_never_answers(
    make_test_server: MakeTestServer, raw_sockets: list[RawWebSocket]
) -> None:
    test_server = await make_test_server(shutdown_timeout=0.2)
    assert test_server.port is not None
    mute = await RawWebSocket.connect("127.0.0.1", test_server.port)
    raw_sockets.append(mute)
    async with aiohttp.ClientSession() as http:
        polite = await http.ws_connect(test_server.make_url("/v1/realtime"))
        created = await polite.receive(timeout=30)
        assert json.loads(created.data)["type"] == "session.created"
        hub = test_server.app[SESSIONS] if test_server.app is not None else None
        assert hub is not None
        await until(lambda: len(hub) == 2, "both sessions to open")
        closing = polite.receive()
        # The mute client reads nothing and will never send its close frame back.
        await test_server.close()
        closed = await closing
    assert closed.type is aiohttp.WSMsgType.CLOSE
    assert closed.data == aiohttp.WSCloseCode.GOING_AWAY
    # What the mute client would have read: its session.created, the close frame with 1001,
    # then the end.
    opcode, payload = await mute.read_frame()
    assert (opcode, json.loads(payload)["type"]) == (0x1, "session.created")
    opcode, payload = await mute.read_frame()
    assert opcode == 0x8
    assert int.from_bytes(payload[:2], "big") == aiohttp.WSCloseCode.GOING_AWAY
    assert payload[2:] == b"server shutdown"
    assert len(hub) == 0


LIST = {"type": "session.characters.list"}


async def test_shutdown_is_bounded_by_a_client_that_neither_reads_nor_answers(
    make_test_server: MakeTestServer, packs_root: Path, raw_sockets: list[RawWebSocket]
) -> None:
    write_heavy_pack(packs_root)
    # No limit or close timeout cuts this client first: only shutdown's own bound can.
    test_server = await make_test_server(
        shutdown_timeout=0.5, close_timeout=600, outbox_limit=10_000, outbox_limit_bytes=1 << 40
    )
    assert test_server.port is not None
    mute = await RawWebSocket.connect(
        "127.0.0.1", test_server.port, receive_buffer=SMALL_SOCKET_BUFFER
    )
    raw_sockets.append(mute)
    mute.send_text('{"type": "session.characters.reload", "pack": "heavy"}')
    opcode, _reloaded = await asyncio.wait_for(mute.read_frame(), 30)
    assert opcode == 0x1
    before = sample_in(generate_latest().decode(), "unmute_events_received_total", LIST)
    for _ in range(50):  # about 20 MB of answers it will not read: the 1001 waits behind them
        mute.send_text('{"type": "session.characters.list"}')
    await mute.writer.drain()

    def all_read() -> bool:
        text = generate_latest().decode()
        return sample_in(text, "unmute_events_received_total", LIST) == before + 50

    await until(all_read, "the server to read every list")
    async with asyncio.timeout(10):  # far less than the close timeout; not a speed figure
        await test_server.close()
    assert test_server.app is not None
    assert len(test_server.app[SESSIONS]) == 0
