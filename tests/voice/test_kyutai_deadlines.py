"""IdleWatchdog on a real WebSocket on loopback: one timer per connection, exact bounds.

The watchdog cancels a waiting task the way :func:`asyncio.timeout` does; these tests hold it
to the conditions that would break that: a connection that must stay usable after a read timed
out, a cancellation from outside at the very moment the bound expires, and bounds that start
while the timer is already armed for later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from tests.fake_kyutai import WAIT_GUARD_SECONDS
from unmute_server.voice._kyutai_deadlines import IdleWatchdog, Owed

IDLE = 0.2


class EchoOnDemand:
    """A WebSocket server that reads everything and answers only when the test says so."""

    def __init__(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []
        self.connected = asyncio.Event()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        self.connected.set()
        async for _message in ws:
            pass
        return ws


@contextlib.contextmanager
def watching(ws: aiohttp.ClientWebSocketResponse, owed: Owed) -> Iterator[IdleWatchdog]:
    """A watchdog over ``ws`` for one test, stopped however the test ends."""
    watchdog = IdleWatchdog(ws, owed, IDLE)
    try:
        yield watchdog
    finally:
        watchdog.stop()


@pytest.fixture
async def socket(
    aiohttp_server: AiohttpServer,
) -> AsyncIterator[tuple[EchoOnDemand, aiohttp.ClientWebSocketResponse]]:
    server_side = EchoOnDemand()
    app = web.Application()
    app.router.add_get("/ws", server_side.handle)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session, session.ws_connect(server.make_url("/ws")) as ws:
        await asyncio.wait_for(server_side.connected.wait(), WAIT_GUARD_SECONDS)
        yield server_side, ws


async def test_a_read_past_the_owed_bound_times_out_and_the_connection_stays_usable(
    socket: tuple[EchoOnDemand, aiohttp.ClientWebSocketResponse],
) -> None:
    server_side, ws = socket
    owed = Owed()
    with watching(ws, owed) as watchdog:
        owed.sent(watchdog.loop.time())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(watchdog.receive(ws), WAIT_GUARD_SECONDS)
        await server_side.sockets[0].send_bytes(b"late")
        owed.received(watchdog.loop.time())
        message = await asyncio.wait_for(watchdog.receive(ws), WAIT_GUARD_SECONDS)
        assert message.data == b"late"


async def test_nothing_owed_is_never_a_timeout(
    socket: tuple[EchoOnDemand, aiohttp.ClientWebSocketResponse],
) -> None:
    server_side, ws = socket
    with watching(ws, Owed()) as watchdog:
        reader = asyncio.create_task(watchdog.receive(ws))
        await asyncio.sleep(3 * IDLE)  # three idle periods, each checked, none owed
        assert not reader.done()
        await server_side.sockets[0].send_bytes(b"at last")
        message = await asyncio.wait_for(reader, WAIT_GUARD_SECONDS)
        assert message.data == b"at last"


async def test_a_bound_that_starts_while_the_timer_waits_is_kept(
    socket: tuple[EchoOnDemand, aiohttp.ClientWebSocketResponse],
) -> None:
    # The timer was armed for one idle period from its start; the answer becomes owed half a
    # period later, while the reader is already waiting: the timeout still comes.
    _server_side, ws = socket
    owed = Owed()
    with watching(ws, owed) as watchdog:
        reader = asyncio.create_task(watchdog.receive(ws))
        await asyncio.sleep(IDLE / 2)
        owed.sent(watchdog.loop.time())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader, WAIT_GUARD_SECONDS)


async def test_a_cancellation_from_outside_when_the_bound_expires_stays_a_cancellation(
    socket: tuple[EchoOnDemand, aiohttp.ClientWebSocketResponse],
) -> None:
    _server_side, ws = socket
    owed = Owed()
    with watching(ws, owed) as watchdog:
        owed.sent(watchdog.loop.time())
        assert owed.since is not None
        reader = asyncio.create_task(watchdog.receive(ws))
        # Due at the same instant as the watchdog's check: both run before the reader resumes.
        watchdog.loop.call_at(owed.since + IDLE, reader.cancel)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(reader, WAIT_GUARD_SECONDS)
        assert reader.cancelled()


async def test_a_cancellation_from_outside_is_not_a_timeout(
    socket: tuple[EchoOnDemand, aiohttp.ClientWebSocketResponse],
) -> None:
    _server_side, ws = socket
    owed = Owed()
    with watching(ws, owed) as watchdog:
        owed.sent(watchdog.loop.time())
        reader = asyncio.create_task(watchdog.receive(ws))
        await asyncio.sleep(0)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader


async def test_a_send_that_does_not_block_arms_no_timer(
    socket: tuple[EchoOnDemand, aiohttp.ClientWebSocketResponse],
) -> None:
    _server_side, ws = socket
    with watching(ws, Owed()) as watchdog:
        loop = watchdog.loop
        scheduled = len(loop._scheduled)  # type: ignore[attr-defined]  # the loop's timer heap
        for _ in range(100):
            await watchdog.send(ws, b"frame")
        assert len(loop._scheduled) == scheduled  # type: ignore[attr-defined]
