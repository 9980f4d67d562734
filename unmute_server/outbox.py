"""The bounded writer between a session and its socket.

``WebSocketResponse.send_*`` waits for a drain once aiohttp's write buffer is full, so a
client that stops reading would stall whoever sends to it. Events for one connection go
through one :class:`Outbox` instead: ``put`` never waits, and one writer task sends them in
order. When more than ``limit`` events are waiting the client is too far behind and ``put``
says so; the handler then closes that connection with 1008. Home Assistant's
``websocket_api`` does the same with its pending-message cap (``MAX_PENDING_MSG``): one slow
browser is dropped rather than allowed to grow the server's memory without bound.

The writer task exists only while there is something to send, so an idle session holds no
task and no queue beyond an empty ``deque``. Most of the time there is not even that: when
nothing is queued, the frame is uncompressed and the transport's buffer is below its low-water
mark, sending cannot wait for anything, so ``put`` hands the frame to the transport at once
(see :meth:`Outbox._write_now`). That spares a task per answer, and with it the objects that a
burst of thousands of answers would otherwise keep alive long enough to be promoted to the
garbage collector's oldest generation and trigger full collections over every open session.
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiohttp import WSMsgType, web


class Outbox:
    """Ordered, bounded, non-blocking sends to one WebSocket."""

    __slots__ = ("_limit", "_pending", "_transport", "_writer", "_ws")

    def __init__(
        self,
        ws: web.WebSocketResponse,
        limit: int,
        transport: asyncio.Transport | None = None,
    ) -> None:
        self._ws = ws
        self._limit = limit
        self._pending: deque[bytes] = deque()
        self._writer: asyncio.Task[None] | None = None
        #: The connection's transport (``request.transport``), for the immediate path;
        #: ``None`` sends everything through the writer task.
        self._transport = transport

    def __len__(self) -> int:
        """Events waiting to be written (not counting one being written)."""
        return len(self._pending)

    def put(self, frame: bytes) -> bool:
        """Queue one text frame (UTF-8 JSON); ``False`` if the client is too far behind."""
        if len(self._pending) >= self._limit:
            return False
        if self._writer is None and not self._pending and self._can_write_now():
            self._write_now(frame)
            return True
        self._pending.append(frame)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return True

    def _can_write_now(self) -> bool:
        """Whether ``send_frame`` would return without waiting.

        An uncompressed frame is written synchronously; afterwards aiohttp waits only if the
        protocol is paused for flow control, which it cannot be while the transport's buffer
        is at or below its low-water mark (writing resumes on reaching it).
        """
        transport = self._transport
        if transport is None or transport.is_closing() or self._ws.compress:
            return False
        low_water, _high_water = transport.get_write_buffer_limits()
        return transport.get_write_buffer_size() <= low_water

    def _write_now(self, frame: bytes) -> None:
        """Send ``frame`` without a task: run ``send_frame`` up to its first suspension.

        :meth:`_can_write_now` makes a suspension all but impossible; should one happen
        anyway, it can only be the flow-control wait after the frame was handed to the
        transport, so dropping that wait loses nothing: later frames queue for the writer
        task, whose ``send_frame`` calls wait for the drain as usual.
        """
        sending = self._ws.send_frame(frame, WSMsgType.TEXT)
        try:
            sending.send(None)
        except StopIteration:
            return
        except (ConnectionError, RuntimeError):
            return  # the peer went away (or the socket is closing), as in ``_write``
        sending.close()

    async def _write(self) -> None:
        pending = self._pending
        try:
            while pending:
                await self._ws.send_frame(pending.popleft(), WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            # The peer went away (or the socket is closing): nothing left to deliver to.
            pending.clear()
        finally:
            self._writer = None

    async def flush(self) -> None:
        """Wait until everything queued so far has been handed to the transport."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    async def abandon(self) -> None:
        """Drop what is waiting and stop the writer (the connection is ending)."""
        self._pending.clear()
        writer = self._writer
        if writer is not None:
            writer.cancel()
            # ``wait`` rather than ``await writer``: the writer's CancelledError is not ours,
            # and a cancellation of the caller must still reach the caller.
            await asyncio.wait((writer,))
