"""An in-process OpenAI-compatible chat-completions server for tests.

It answers `POST /v1/chat/completions` with `"stream": true` by writing real server-sent events
over a real HTTP response, so the code under test runs its real HTTP client against it. Each
request's JSON body, headers and client connection are recorded, and so is every request whose
client went away before the answer was complete (`disconnected`): that is how a test proves that
a cancelled response closed its upstream request.

What to answer is scripted per request with `FakeLLM.enqueue(...)`; requests beyond the queue get
`FakeLLM.default`. Tests wait on the recorded state with `FakeLLM.wait_until(...)`, not a clock.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pytest_aiohttp import AiohttpServer

ChunkSource = Sequence[str] | Callable[[Mapping[str, Any]], Sequence[str]]
"""Texts to stream: fixed, or computed from the request body (to echo what the client sent)."""

# The guard for every wait: long enough never to fire on a slow CI machine, short enough that a
# broken test fails instead of hanging. Tests never assert how long anything took.
WAIT_GUARD_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class StreamReply:
    """A 200 event stream of `chunks`, one text delta per event.

    `delay` sleeps between events; `gate`, when given, holds the stream after the headers until the
    test sets it (to prove two requests are in flight together). `then` says how the stream ends:
    `finish` sends a chunk with `finish_reason` and `data: [DONE]`; `stall` goes silent forever;
    `close` drops the connection mid-body; `end` ends the body cleanly but without a finish reason.
    """

    chunks: ChunkSource = ("Hello", " there", ".")
    delay: float = 0.0
    gate: asyncio.Event | None = None
    then: Literal["finish", "stall", "close", "end"] = "finish"
    finish_reason: str = "stop"


@dataclass(frozen=True, slots=True)
class StatusReply:
    """An HTTP error status with an OpenAI-style JSON error body."""

    status: int
    message: str = "fake failure"


@dataclass(frozen=True, slots=True)
class RawReply:
    """A 200 answer whose body is exactly `body` (for malformed streams), then the end.

    With `gate`, the body is sent in two writes: `body`, then `rest` once the test sets the gate.
    A test that reads a delta from `body` before it sets the gate knows the client read the two
    parts separately (an event split across reads, a line end split between `\r` and `\n`).
    `content_type` is the answer's Content-Type.
    """

    body: bytes
    gate: asyncio.Event | None = None
    rest: bytes = b""
    content_type: str = "text/event-stream"


@dataclass(frozen=True, slots=True)
class SilentReply:
    """Accept the request and never answer, not even the status line."""


Reply = StreamReply | StatusReply | RawReply | SilentReply


@dataclass(slots=True)
class RecordedRequest:
    """One request as the fake server saw it."""

    body: dict[str, Any]
    headers: Mapping[str, str]
    connection: tuple[str, int] | None = None
    """The client's end of the TCP connection (host, port): the same for requests sharing one."""
    completed: bool = False
    disconnected: bool = False
    closed_by_server: bool = False

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages the client sent."""
        messages: list[dict[str, Any]] = self.body["messages"]
        return messages

    @property
    def system_prompt(self) -> str | None:
        """The content of the first message when it is a system message."""
        first = self.messages[0] if self.messages else None
        if first is not None and first["role"] == "system":
            content: str = first["content"]
            return content
        return None


@dataclass(eq=False)
class FakeLLM:
    """The scripted server and what it recorded; `start_fake_llm` serves it on loopback."""

    default: Reply = field(default_factory=StreamReply)
    requests: list[RecordedRequest] = field(default_factory=list)
    base_url: str = ""
    _queue: deque[Reply] = field(default_factory=deque)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next requests with `replies`, in order."""
        self._queue.extend(replies)

    @property
    def disconnects(self) -> int:
        """How many requests lost their client before their answer was complete."""
        return sum(1 for request in self.requests if request.disconnected)

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate()` holds for the recorded state; fail after a generous guard."""
        async with asyncio.timeout(WAIT_GUARD_SECONDS), self._changed:
            await self._changed.wait_for(predicate)

    def app(self) -> web.Application:
        """The aiohttp application serving `/v1/chat/completions`."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        return app

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        transport = request.transport
        record = RecordedRequest(
            body=body,
            headers=dict(request.headers),
            connection=None if transport is None else transport.get_extra_info("peername"),
        )
        self.requests.append(record)
        await self._notify()
        reply = self._queue.popleft() if self._queue else self.default
        try:
            response = await self._answer(request, record, reply)
            record.completed = True
            return response
        except (asyncio.CancelledError, ConnectionError):
            # aiohttp's test server cancels the handler when its client disconnects; a write to a
            # closed connection raises ConnectionResetError. Either way the client went away,
            # unless the fake itself dropped the connection (`then="close"`).
            record.disconnected = not record.closed_by_server
            raise
        finally:
            await asyncio.shield(self._notify())

    async def _answer(
        self, request: web.Request, record: RecordedRequest, reply: Reply
    ) -> web.StreamResponse:
        if not record.body.get("stream"):
            return web.json_response({"error": {"message": "this fake only streams"}}, status=400)
        if isinstance(reply, StatusReply):
            error = {"message": reply.message, "type": "fake_error", "code": None}
            return web.json_response({"error": error}, status=reply.status)
        if isinstance(reply, SilentReply):
            await asyncio.Event().wait()
        content_type = reply.content_type if isinstance(reply, RawReply) else "text/event-stream"
        response = web.StreamResponse(
            headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        if isinstance(reply, RawReply):
            await response.write(reply.body)
            if reply.gate is not None:
                await reply.gate.wait()
                await response.write(reply.rest)
            await response.write_eof()
            return response
        assert isinstance(reply, StreamReply)
        if reply.gate is not None:
            await reply.gate.wait()
        chunks = reply.chunks(record.body) if callable(reply.chunks) else reply.chunks
        model = str(record.body.get("model", "fake"))
        await response.write(_event(_chunk(model, {"role": "assistant", "content": ""})))
        for text in chunks:
            if reply.delay:
                await asyncio.sleep(reply.delay)
            await response.write(_event(_chunk(model, {"content": text})))
        if reply.then == "stall":
            await asyncio.Event().wait()
        if reply.then == "close":
            assert request.transport is not None
            record.closed_by_server = True
            request.transport.abort()
            await asyncio.Event().wait()  # aiohttp cancels this handler once the loss is seen
        if reply.then == "finish":
            await response.write(_event(_chunk(model, {}, finish_reason=reply.finish_reason)))
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


async def start_fake_llm(aiohttp_server: AiohttpServer, default: Reply | None = None) -> FakeLLM:
    """Serve a new `FakeLLM` on loopback; its `base_url` is what `LLMSettings.url` takes."""
    fake = FakeLLM() if default is None else FakeLLM(default=default)
    server = await aiohttp_server(fake.app())
    fake.base_url = str(server.make_url("/v1"))
    return fake
