"""The bounded writer between a session and its socket.

``WebSocketResponse.send_*`` waits for a drain once the transport's buffer is full, so a
client that stops reading would stall whoever sends to it. Events for one connection go
through one :class:`Outbox` instead: ``put`` never waits, and one writer task hands the
frames to aiohttp in order, each ``send_frame`` awaited to its end (drain included) before the
next. A frame is therefore either delivered in order or the connection ends; nothing that was
accepted is skipped while the connection lives.

What a slow client costs is what is really waiting for it: the frames queued here *and* the
bytes in the transport's write buffer (a frame is handed to the transport whole, so that buffer
can hold a large one). When ``limit`` events or ``byte_limit`` bytes already wait as another
is put, the client is too far behind and ``put`` says so; the connection then closes it with
:meth:`Outbox.close`. Home Assistant's ``websocket_api`` does the same with its
pending-message cap (``MAX_PENDING_MSG``): one slow browser is dropped rather than allowed to
grow the server's memory without bound.

A closing connection's socket is never left to linger: asyncio's ``transport.close()`` keeps
the socket (and its file descriptor, and its kernel buffers) until every buffered byte is
sent, which for a client that never reads is never. :meth:`Outbox.close` and
:meth:`Outbox.release` give it ``grace`` seconds and then ``abort()`` it.

The writer task exists only while there is something to send, so an idle session holds no
task and no queue beyond an empty ``deque``. The writer is never cancelled: aiohttp's drain
waiter is one future shared by every coroutine waiting to write on that socket (the writer,
a pong, a close), and cancelling one waiting task cancels that future under all of them.
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiohttp import WSMsgType, web


class Outbox:
    """Ordered, bounded, non-blocking sends to one WebSocket."""

    __slots__ = (
        "_byte_limit",
        "_closing",
        "_grace",
        "_limit",
        "_lost",
        "_pending",
        "_pending_bytes",
        "_transport",
        "_writer",
        "_ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        *,
        limit: int,
        byte_limit: int,
        grace: float,
    ) -> None:
        self._ws = ws
        #: The connection's transport (``request.transport`` when the handler starts: the
        #: request lets go of it once the connection is closing, the socket may not yet).
        self._transport = transport
        self._limit = limit
        self._byte_limit = byte_limit
        self._grace = grace
        self._pending: deque[bytes] = deque()
        self._pending_bytes = 0
        self._writer: asyncio.Task[None] | None = None
        #: The peer is gone: what is put is dropped (there is no one left to read it).
        self._lost = False
        #: :meth:`close` was called: ``put`` refuses everything.
        self._closing = False

    @property
    def transport(self) -> asyncio.Transport:
        """The connection's transport (to cut a connection that will not close)."""
        return self._transport

    def __len__(self) -> int:
        """Events waiting to be handed to the transport (not counting one being handed)."""
        return len(self._pending)

    @property
    def waiting_bytes(self) -> int:
        """Bytes written for the client and not yet taken by the kernel."""
        return self._pending_bytes + self._transport.get_write_buffer_size()

    def put(self, frame: bytes) -> bool:
        """Queue one text frame (UTF-8 JSON); ``False`` if the client is too far behind.

        Too far behind: ``limit`` events or ``byte_limit`` bytes already wait for it, or the
        outbox is closing. A frame put after the peer is gone is dropped (``True``): the
        connection is ending anyway, and the receive loop learns it from the socket.
        """
        if self._closing:
            return False
        if self._lost:
            return True
        if len(self._pending) >= self._limit or self.waiting_bytes >= self._byte_limit:
            return False
        self._pending.append(frame)
        self._pending_bytes += len(frame)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return True

    async def _write(self) -> None:
        pending = self._pending
        send_frame = self._ws.send_frame
        try:
            while pending:
                frame = pending.popleft()
                self._pending_bytes -= len(frame)
                await send_frame(frame, WSMsgType.TEXT)
        except ConnectionError:
            # The peer went away (or the socket is closing): nothing left to deliver to.
            self._lost = True
            self._drop_pending()
        finally:
            self._writer = None

    def _drop_pending(self) -> None:
        self._pending.clear()
        self._pending_bytes = 0

    async def flush(self) -> None:
        """Wait until everything queued so far has been handed to the transport."""
        while (writer := self._writer) is not None:
            await asyncio.wait((writer,))

    async def close(self, code: int, reason: bytes) -> None:
        """Close a client that is too far behind: ``code`` after what the transport holds.

        Frames still queued here are dropped; the close frame is written behind the bytes
        already handed to the transport, so a client that resumes reading within ``grace``
        seconds reads those answers, then the close. Whatever happens, the transport is
        aborted ``grace`` seconds from now if it is not closed by then.
        """
        self._closing = True
        self._drop_pending()
        self._abort_later()
        await self._ws.close(code=code, message=reason)

    def release(self) -> None:
        """The connection is over: drop what waits, and bound how long the socket may linger.

        A socket still holding unsent bytes (a peer dropped by the heartbeat, say) is closed
        and aborted ``grace`` seconds from now at the latest, which also ends a writer still
        waiting for its drain.
        """
        self._closing = True
        self._drop_pending()
        transport = self._transport
        transport.close()  # as aiohttp does once the handler returns: sends what it holds
        if transport.get_write_buffer_size():
            self._abort_later()

    def _abort_later(self) -> None:
        asyncio.get_running_loop().call_later(self._grace, self._transport.abort)
