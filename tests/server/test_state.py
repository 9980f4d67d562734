"""The session hub: shutdown closes every socket, and a peer that never answers cannot hold it."""

from __future__ import annotations

import aiohttp

from tests.server.conftest import MakeTestServer, RawWebSocket, until
from unmute_server.state import SESSIONS


async def test_shutdown_sends_1001_to_every_client_even_one_that_never_answers(
    make_test_server: MakeTestServer, raw_sockets: list[RawWebSocket]
) -> None:
    test_server = await make_test_server(shutdown_timeout=0.2)
    assert test_server.port is not None
    mute = await RawWebSocket.connect("127.0.0.1", test_server.port)
    raw_sockets.append(mute)
    async with aiohttp.ClientSession() as http:
        polite = await http.ws_connect(test_server.make_url("/v1/realtime"))
        hub = test_server.app[SESSIONS] if test_server.app is not None else None
        assert hub is not None
        await until(lambda: len(hub) == 2, "both sessions to open")
        closing = polite.receive()
        # The mute client reads nothing and will never send its close frame back.
        await test_server.close()
        closed = await closing
    assert closed.type is aiohttp.WSMsgType.CLOSE
    assert closed.data == aiohttp.WSCloseCode.GOING_AWAY
    # What the mute client would have read: the close frame with 1001, then the end.
    opcode, payload = await mute.read_frame()
    assert opcode == 0x8
    assert int.from_bytes(payload[:2], "big") == aiohttp.WSCloseCode.GOING_AWAY
    assert payload[2:] == b"server shutdown"
    assert len(hub) == 0
