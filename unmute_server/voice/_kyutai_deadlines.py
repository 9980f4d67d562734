"""The idle bounds of one Kyutai connection, kept by one timer instead of one per message.

Every ``Audio`` frame to the STT server (12.5 a second per utterance) and every message from
either server used to be awaited inside a timeout of its own: a timer pushed on the event loop's
heap and cancelled a moment later, per message, for a bound that almost never fires. Here one
timer per connection watches both bounds, the classic lazy timeout: it is re-armed only when it
fires (at most about once an idle period), and on expiry it cancels the task that waits, as
:func:`asyncio.timeout` would have, so the waiting call raises :class:`TimeoutError` and the
adapter turns it into the same error as before. A send that does not block and a message that is
already there cost two attribute writes, no timer.
"""

from __future__ import annotations

import asyncio

import aiohttp


class Owed:
    """Whether the server owes this client an answer, and since when it has been silent.

    The idle timeout counts only then: a speech-to-text server owes a ``Step`` for audio it was
    sent, and the flush marker's echo; a text-to-speech server owes the rest of the audio only
    after ``Eos`` (before that it may be waiting, rightly, for more text). Time with nothing owed
    is never a timeout, however long.
    """

    __slots__ = ("_held", "since")

    def __init__(self) -> None:
        self.since: float | None = None
        self._held = False

    def sent(self, now: float) -> None:
        """The client sent something the server must answer."""
        if self.since is None:
            self.since = now

    def hold(self, now: float) -> None:
        """From now on every silence counts, even right after a message (a flush, an ``Eos``)."""
        self._held = True
        self.sent(now)

    def received(self, now: float) -> None:
        """The server said something."""
        self.since = now if self._held else None


class IdleWatchdog:
    """Both idle bounds of one connection: the server's answer (:class:`Owed`) and each send.

    :meth:`receive` fails with TimeoutError once the server has owed an answer for
    ``idle_timeout`` seconds; :meth:`send` once one send has waited that long (the server stopped
    reading). One reader and one sender may wait at the same time, from different tasks. The timer
    stops with :meth:`stop`, or by itself once the socket is closed.
    """

    def __init__(
        self, socket: aiohttp.ClientWebSocketResponse, owed: Owed, idle_timeout: float
    ) -> None:
        self.owed = owed
        self.idle_timeout = idle_timeout
        self.loop = asyncio.get_running_loop()
        self._socket = socket
        self._reader: asyncio.Task[object] | None = None
        self._sender: asyncio.Task[object] | None = None
        self._send_started = 0.0
        #: Tasks this watchdog cancelled and that have not yet seen their cancellation.
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = self.loop.call_at(
            self.loop.time() + idle_timeout, self._check
        )

    def stop(self) -> None:
        """No more checks (the connection is over). Idempotent."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def overdue(self) -> bool:
        """Whether the server's answer is already late (a reader that was busy elsewhere)."""
        since = self.owed.since
        return since is not None and self.loop.time() - since >= self.idle_timeout

    async def receive(self, socket: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
        """``socket.receive()``; TimeoutError when the server's answer is ``idle_timeout`` late."""
        task = _current_task()
        cancelling = task.cancelling()
        self._reader = task
        try:
            return await socket.receive()
        except asyncio.CancelledError:
            if self._settle(task, cancelling):
                raise TimeoutError from None
            raise
        finally:
            self._reader = None
            self._settle(task, cancelling)

    async def send(self, socket: aiohttp.ClientWebSocketResponse, data: bytes) -> None:
        """``socket.send_bytes(data)``; TimeoutError when it waits ``idle_timeout`` seconds."""
        task = _current_task()
        cancelling = task.cancelling()
        self._send_started = self.loop.time()
        self._sender = task
        try:
            await socket.send_bytes(data)
        except asyncio.CancelledError:
            if self._settle(task, cancelling):
                raise TimeoutError from None
            raise
        finally:
            self._sender = None
            self._settle(task, cancelling)

    def _settle(self, task: asyncio.Task[object], cancelling: int) -> bool:
        """Take back this watchdog's cancellation of ``task``, as :func:`asyncio.timeout` does.

        True when the cancellation was this watchdog's alone (the wait timed out); False when
        the watchdog did not cancel ``task``, or someone else cancelled it too (that
        cancellation goes on).
        """
        if task not in self._expired:
            return False
        self._expired.discard(task)
        return task.uncancel() <= cancelling

    def _check(self) -> None:
        """Cancel a wait past its bound; otherwise look again at the earliest bound to come."""
        self._timer = None
        if self._socket.closed:
            return
        now = self.loop.time()
        idle = self.idle_timeout
        next_check = now + idle
        # A bound that starts after this check ends after next_check: checking again by then
        # is always soon enough, and a bound already running is checked exactly at its end.
        reader = self._reader
        since = self.owed.since
        if reader is not None and since is not None:
            if now - since >= idle:
                self._expire(reader)
            else:
                next_check = min(next_check, since + idle)
        sender = self._sender
        if sender is not None:
            if now - self._send_started >= idle:
                self._expire(sender)
            else:
                next_check = min(next_check, self._send_started + idle)
        self._timer = self.loop.call_at(next_check, self._check)

    def _expire(self, task: asyncio.Task[object]) -> None:
        if task not in self._expired:
            self._expired.add(task)
            task.cancel()


def _current_task() -> asyncio.Task[object]:
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - every caller runs in a task
        raise RuntimeError("a Kyutai connection is used outside a task")
    return task
