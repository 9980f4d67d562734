"""The bounded writer between a session and its socket.

``WebSocketResponse.send_*`` waits for a drain once aiohttp's write buffer is full, so a
client that stops reading would stall whoever sends to it. Events for one connection go
through one :class:`Outbox` instead: ``put`` never waits, and one writer task sends them in
order. When more than ``limit`` events are waiting the client is too far behind and ``put``
says so; the handler then closes that connection with 1008. Home Assistant's
``websocket_api`` does the same with its pending-message cap (``MAX_PENDING_MSG``): one slow
browser is dropped rather than allowed to grow the server's memory without bound.

The writer task exists only while there is something to send, so an idle session holds no
task and no queue beyond an empty ``deque``.
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiohttp import WSMsgType, web


class Outbox:
    """Ordered, bounded, non-blocking sends to one WebSocket."""

    __slots__ = ("_limit", "_pending", "_writer", "_ws")

    def __init__(self, ws: web.WebSocketResponse, limit: int) -> None:
        self._ws = ws
        self._limit = limit
        self._pending: deque[bytes] = deque()
        self._writer: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        """Events waiting to be written (not counting one being written)."""
        return len(self._pending)

    def put(self, frame: bytes) -> bool:
        """Queue one text frame (UTF-8 JSON); ``False`` if the client is too far behind."""
        if len(self._pending) >= self._limit:
            return False
        self._pending.append(frame)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return True

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
