"""One simulated voice session: a real WebSocket client that sends events and checks answers.

A session sends one event and waits for its answer before sending the next, as a browser
that needs the answer (the character list before choosing a voice) does. The server
answers a session's events one by one in arrival order (DESIGN 4), so the next text frame
is the answer to the event just sent: that is how answers are matched to requests. An
``error`` answer must carry the request's ``event_id`` (DESIGN 5); an answer of the wrong
type, or an error naming another event, is counted as ``mismatched_answer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import time
from collections.abc import Sequence
from typing import Final

import aiohttp

from unmute_server.loadtest.mix import EXPECTED_ANSWER, Action, ActionKind, payload
from unmute_server.loadtest.pacer import Pacer
from unmute_server.loadtest.stats import Tally

#: The WebSocket subprotocol OpenAI-style clients offer.
SUBPROTOCOLS = ("realtime",)

#: ``compress=15`` offers permessage-deflate with a 32 KiB window, as browsers do.
DEFLATE_WINDOW_BITS = 15

#: How the server's first event starts: it answers no request.
_CREATED: Final = '{"type":"session.created"'

#: Message types that mean the connection is over.
_ENDED = frozenset(
    {
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSING,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.ERROR,
    }
)

#: Largest answer accepted (a reload of a 2,000-character pack lists all of them).
MAX_ANSWER_BYTES = 16 * 1024 * 1024


def connect_failure_reason(error: BaseException) -> str:
    """A short, bounded label for why a connection failed (it keys the report's counter)."""
    if isinstance(error, aiohttp.WSServerHandshakeError):
        return f"handshake_{error.status}"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, aiohttp.ClientConnectorError):
        code = error.os_error.errno
        return f"connect_{errno.errorcode.get(code, code) if code else 'error'}".lower()
    if isinstance(error, OSError) and error.errno:
        return f"os_{errno.errorcode.get(error.errno, error.errno)}".lower()
    return type(error).__name__


class VoiceClient:
    """One session's socket, what it was last shown, and its event counter."""

    __slots__ = ("_answer_timeout", "_pacer", "_sequence", "_tally", "characters", "index", "ws")

    def __init__(
        self, index: int, tally: Tally, *, answer_timeout: float, pacer: Pacer | None
    ) -> None:
        self.index = index
        self._tally = tally
        self._answer_timeout = answer_timeout
        self._pacer = pacer
        self._sequence = 0
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        #: Character names from the last list or reload answer: what an update may choose.
        self.characters: Sequence[str] = ()

    async def connect(
        self, http: aiohttp.ClientSession, url: str, *, compression: bool, within: float
    ) -> bool:
        """Open the WebSocket; ``False`` (and a counted reason) if that failed."""
        tally = self._tally
        tally.connects_attempted += 1
        started = time.perf_counter()
        try:
            async with asyncio.timeout(within):
                self.ws = await http.ws_connect(
                    url,
                    protocols=SUBPROTOCOLS,
                    compress=DEFLATE_WINDOW_BITS if compression else 0,
                    autoping=True,
                    max_msg_size=MAX_ANSWER_BYTES,
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            tally.connect_failures[connect_failure_reason(error)] += 1
            return False
        tally.connect_latencies.append(time.perf_counter() - started)
        tally.connects_succeeded += 1
        return True

    async def perform(self, action: Action, *, deadline: float | None = None) -> bool:
        """Send ``action``, wait for its answer, check it; ``False`` once the session is over.

        With ``deadline`` (loop time), nothing is sent if the rate limit's slot for this
        event falls after it: a paced run ends on time instead of draining its queue.
        """
        ws = self.ws
        if ws is None or ws.closed:
            return False
        tally = self._tally
        self._sequence += 1
        event_id = f"lt{self.index}-{self._sequence}"
        text = payload(action, event_id, self.characters)
        if self._pacer is not None and not await self._pacer.wait(deadline):
            return False
        if deadline is not None and asyncio.get_running_loop().time() >= deadline:
            return False
        started = time.perf_counter()
        try:
            await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            tally.errors["send_failed"] += 1
            return False
        tally.sent[action.kind] += 1
        try:
            message = await ws.receive(timeout=self._answer_timeout)
            if message.type is aiohttp.WSMsgType.TEXT and message.data.startswith(_CREATED):
                # Every session starts with session.created; the answer follows it.
                message = await ws.receive(timeout=self._answer_timeout)
        except TimeoutError:
            tally.errors["answer_timeout"] += 1
            return False
        elapsed = time.perf_counter() - started
        if message.type is not aiohttp.WSMsgType.TEXT:
            tally.errors["connection_closed" if message.type in _ENDED else "not_text"] += 1
            return False
        tally.record_answer(action.kind, elapsed)
        self._check(action, event_id, message.data)
        return True

    def _check(self, action: Action, event_id: str, text: str) -> None:
        tally = self._tally
        try:
            answer = json.loads(text)
        except ValueError:
            tally.errors["answer_not_json"] += 1
            return
        if not isinstance(answer, dict):
            tally.errors["answer_not_object"] += 1
            return
        kind = answer.get("type")
        if kind == "error":
            details = answer.get("error")
            details = details if isinstance(details, dict) else {}
            tally.errors[str(details.get("code") or "error_without_code")] += 1
            if details.get("event_id") not in (None, event_id):
                tally.errors["mismatched_answer"] += 1
            return
        if kind != EXPECTED_ANSWER[action.kind]:
            tally.errors["mismatched_answer"] += 1
            return
        if action.kind is not ActionKind.UPDATE:
            listed = answer.get("characters")
            if isinstance(listed, list):
                self.characters = [
                    entry["name"]
                    for entry in listed
                    if isinstance(entry, dict) and isinstance(entry.get("name"), str)
                ]

    async def idle(self) -> None:
        """Stay connected and read (answering pings) until cancelled or the server closes."""
        ws = self.ws
        if ws is None:
            return
        while not ws.closed:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                self._tally.errors["unexpected_message"] += 1
            elif message.type in _ENDED:
                self._tally.errors["connection_closed"] += 1
                return

    async def close(self) -> None:
        """Close the WebSocket (a normal 1000 close) if it is open."""
        ws = self.ws
        if ws is None:
            return
        self.ws = None
        if not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
                await ws.close()
        self._tally.closed_sessions += 1
