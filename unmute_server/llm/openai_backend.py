"""The chat backend for any OpenAI-compatible server (vLLM, llama.cpp, Ollama, the hosted API).

It speaks HTTP through aiohttp's client, which the server already runs on, and cuts the
server-sent events out of the body itself (`_sse`). It used the official `openai` client until
that client was measured: 4.4-6.5 ms of CPU per streamed answer of 20 chunks (building the
request, transforming the parameters, its Python event decoder, a pydantic object per chunk),
7-14% of the server's CPU in the voice relay benchmark. A chat stream needs one POST and one
`json.loads` per event; see docs/benchmarks.md for the figure now.

On top of HTTP it adds what a voice session needs: deadlines for the first token and the whole
answer, one `LLMError` code per way of failing, messages that never carry the API key, the URL
or the upstream body, and an upstream request that is closed the moment the consumer stops
reading.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

from ._sse import MAX_EVENT_BYTES, EventDataDecoder, EventTooLong
from .backend import ChatMessage
from .errors import LLMError, LLMErrorCode
from .settings import LLMSettings

logger = logging.getLogger(__name__)

# Sent as the bearer token when no key is configured: local servers ignore it, and the `openai`
# client (the voice adapters' one) given a value never picks up an unrelated OPENAI_API_KEY.
NO_API_KEY = "unmute-no-key"

#: Connections open at once to the LLM server, as the `openai` client allowed (aiohttp's own
#: default of 100 would hold the 101st concurrent answer until another one ends).
_POOL_CONNECTIONS: Final = 1000
#: What follows `data: [DONE]` is normally only the end of the chunked body; reading it (for at
#: most this long, as the `openai` client did) lets the connection serve the next answer.
_DRAIN_AFTER_DONE_SECONDS: Final = 0.1
#: Bytes of an HTTP error's body read for the log; the key is replaced before the line is cut.
_ERROR_BODY_READ_LIMIT: Final = 4096
_LOGGED_DETAIL_LIMIT: Final = 300


class OpenAICompatibleBackend:
    """Streams chat completions from one OpenAI-compatible server; one instance per process.

    Its `aiohttp.ClientSession` keeps a connection pool: create one backend at application
    start-up and close it with `aclose` at cleanup. The session is made at the first answer, on
    the loop that asks. Retries are off: in a live conversation a retried request only adds
    silence, and the client can simply ask again.
    """

    __slots__ = ("_closed", "_headers", "_session", "_settings", "_url")

    def __init__(self, settings: LLMSettings) -> None:
        self._settings = settings
        self._url, self._headers = _endpoint(settings)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def settings(self) -> LLMSettings:
        """The settings this backend was built with (the API key stays out of their repr)."""
        return self._settings

    async def aclose(self) -> None:
        """Close the connection pool; the backend answers no more requests."""
        self._closed = True
        if self._session is not None:
            await self._session.close()

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        """Yield the text deltas of one streamed chat completion; see `ChatBackend.stream`.

        Raises `LLMError` with code `llm_timeout` when no text arrives within
        `first_token_timeout`, the stream stalls that long between two reads, or the answer is
        not complete within `total_timeout`; `llm_unreachable` when the server cannot be
        connected to; `llm_http_error` for an HTTP error status or an error reported inside the
        stream; and `llm_bad_stream` when the stream is malformed or ends before a
        `finish_reason`.
        """
        settings = self._settings
        loop = asyncio.get_running_loop()
        started = loop.time()
        total_deadline = started + settings.total_timeout
        first_deadline = min(started + settings.first_token_timeout, total_deadline)
        body: dict[str, Any] = {
            "model": settings.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
        }
        if settings.max_tokens is not None:
            body["max_tokens"] = settings.max_tokens
        response = await self._post(body, first_deadline)

        # Leaving this block for any reason (end, error, cancellation, the consumer's aclose)
        # releases the response: a body not read to its end closes its connection, which is
        # what stops the LLM server generating for a cancelled response.
        try:
            content = response.content
            decoder = EventDataDecoder()
            got_event = got_text = finished = done = False
            while not done:
                deadline = total_deadline if got_text else first_deadline
                chunk = await self._read(content, deadline, first_token=not got_text)
                if not chunk:
                    break
                for data in _feed(decoder, chunk):
                    got_event = True
                    if data.startswith(b"[DONE]"):
                        done = True
                        break
                    text, chunk_finished = _read_chunk(self._parse_event(data))
                    finished = finished or chunk_finished
                    if text:
                        got_text = True
                        yield text
            if done:
                await _drain(content)
            if not got_event and response.content_type != "text/event-stream":
                raise LLMError(
                    LLMErrorCode.BAD_STREAM,
                    "the LLM server answered with something other than an event stream",
                )
        finally:
            response.release()
        if not finished:
            raise LLMError(
                LLMErrorCode.BAD_STREAM,
                "the LLM stream ended before the model finished its answer",
            )

    async def _read(
        self, content: aiohttp.StreamReader, deadline: float, *, first_token: bool
    ) -> bytes:
        """The next bytes of the body (empty at its end), within `deadline` and the stall limit."""
        stall = self._settings.first_token_timeout
        # One timer per read bounds both the answer's deadline and the silence allowed between
        # two reads (the stall detector an HTTP client's read timeout was).
        wait_until = min(deadline, asyncio.get_running_loop().time() + stall)
        try:
            async with asyncio.timeout_at(wait_until):
                return await content.readany()
        except TimeoutError:
            if wait_until < deadline:
                raise LLMError(
                    LLMErrorCode.TIMEOUT, f"the LLM stream stalled for more than {stall:g} s"
                ) from None
            raise self._deadline_error(first_token=first_token) from None
        except (aiohttp.ClientError, OSError) as err:
            raise self._stream_error(err) from None

    def _client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            if self._closed:
                raise RuntimeError("the LLM backend is closed")
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=_POOL_CONNECTIONS),
                # The first-token and total deadlines are enforced in `stream`; aiohttp's own
                # five-minute total would cut a long answer short.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._settings.connect_timeout
                ),
            )
        return session

    async def _post(self, body: dict[str, Any], deadline: float) -> aiohttp.ClientResponse:
        """Send the request and return its response once its status says an answer follows."""
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._client().post(self._url, json=body, headers=self._headers)
        except aiohttp.ServerTimeoutError as err:  # a TimeoutError too: the connect timeout
            raise self._request_error(err) from None
        except TimeoutError:
            raise self._deadline_error(first_token=True) from None
        except Exception as err:  # every failure of the request becomes one LLMError
            raise self._request_error(err) from None
        if 200 <= response.status < 300:
            return response
        try:
            async with asyncio.timeout_at(deadline):
                detail = await _read_start(response.content, _ERROR_BODY_READ_LIMIT)
        except (TimeoutError, aiohttp.ClientError, OSError):
            detail = "(the body could not be read)"
        finally:
            response.release()
        status = f"HTTP {response.status}" + (f" {response.reason}" if response.reason else "")
        self._log("request", status, detail)
        raise LLMError(LLMErrorCode.HTTP_ERROR, f"the LLM server answered {status}")

    def _parse_event(self, data: bytes) -> object:
        """Decode one event's JSON; an error the server reports in the stream raises."""
        try:
            event = json.loads(data)
        except ValueError as err:
            self._log("stream", type(err).__name__, str(err))
            raise LLMError(
                LLMErrorCode.BAD_STREAM, "the LLM server sent a malformed stream"
            ) from None
        if isinstance(event, dict) and event.get("error"):
            self._log("stream", "error event", json.dumps(event["error"]))
            raise LLMError(
                LLMErrorCode.HTTP_ERROR, "the LLM server reported an error in the stream"
            )
        return event

    def _deadline_error(self, *, first_token: bool) -> LLMError:
        settings = self._settings
        if first_token and settings.first_token_timeout < settings.total_timeout:
            message = f"the LLM sent no text within {settings.first_token_timeout:g} s"
        else:
            message = f"the LLM answer took longer than {settings.total_timeout:g} s"
        return LLMError(LLMErrorCode.TIMEOUT, message)

    def _request_error(self, err: Exception) -> LLMError:
        """Map a failure before the status line arrived (connecting, sending, waiting)."""
        self._log("request", type(err).__name__, str(err))
        if isinstance(err, aiohttp.ServerTimeoutError):
            return LLMError(LLMErrorCode.TIMEOUT, "the LLM server did not answer in time")
        if isinstance(err, aiohttp.ClientError | OSError):
            return LLMError(LLMErrorCode.UNREACHABLE, "could not connect to the LLM server")
        return LLMError(LLMErrorCode.UNREACHABLE, "the request to the LLM server failed")

    def _stream_error(self, err: Exception) -> LLMError:
        """Map a failure of the connection while the event stream was read."""
        self._log("stream", type(err).__name__, str(err))
        return LLMError(
            LLMErrorCode.BAD_STREAM,
            "the LLM server closed the stream before the answer was complete",
        )

    def _log(self, stage: str, what: str, detail: str) -> None:
        # Server-side detail for the operator; still without the API key, and bounded in size.
        key = self._settings.api_key
        if key:
            detail = detail.replace(key, "[api key]")
        if len(detail) > _LOGGED_DETAIL_LIMIT:
            detail = detail[:_LOGGED_DETAIL_LIMIT] + "..."
        logger.warning("LLM %s failed: %s: %s", stage, what, detail)


def _endpoint(settings: LLMSettings) -> tuple[str, dict[str, str]]:
    """The chat-completions URL and the request headers for `settings`.

    The path is joined as the `openai` client joined it (`/v1` and `/v1/` both give
    `/v1/chat/completions`). Credentials written into the URL (`http://user:password@host/v1`)
    are sent as Basic authentication in place of the bearer key, as that client's HTTP library
    did; they are taken out of the URL, so no error or log line of aiohttp's can quote them.
    """
    parts = urlsplit(settings.url)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    netloc = parts.netloc.rpartition("@")[2]
    url = urlunsplit((parts.scheme, netloc, path + "chat/completions", parts.query, ""))
    if parts.username is not None or parts.password is not None:
        credentials = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    else:
        authorization = f"Bearer {settings.api_key or NO_API_KEY}"
    return url, {"Authorization": authorization, "Accept": "text/event-stream"}


def _feed(decoder: EventDataDecoder, chunk: bytes) -> list[bytes]:
    try:
        return decoder.feed(chunk)
    except EventTooLong:
        raise LLMError(
            LLMErrorCode.BAD_STREAM,
            f"the LLM server sent an event longer than {MAX_EVENT_BYTES >> 20} MiB",
        ) from None


async def _drain(content: aiohttp.StreamReader) -> None:
    """Read what is left of a finished answer's body, briefly, so its connection can be reused."""
    try:
        async with asyncio.timeout(_DRAIN_AFTER_DONE_SECONDS):
            while await content.readany():
                pass
    except (TimeoutError, aiohttp.ClientError, OSError):
        pass  # the answer is complete: only the connection is lost


async def _read_start(content: aiohttp.StreamReader, limit: int) -> str:
    """The first `limit` bytes of a body (less when it is shorter), as text."""
    data = b""
    while len(data) < limit:
        chunk = await content.read(limit - len(data))
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace")


def _read_chunk(chunk: object) -> tuple[str, bool]:
    """Return the text of choice 0 in one chunk and whether the model said it has finished.

    Shapes are checked here: a chunk that is not an object with a `choices` list, or whose
    content is not a string, is a malformed stream; usage chunks have an empty list.
    """
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    if not isinstance(choices, list):
        raise LLMError(LLMErrorCode.BAD_STREAM, "the LLM server sent a chunk without choices")
    parts: list[str] = []
    finished = False
    for choice in choices:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        if content is not None and not isinstance(content, str):
            raise LLMError(LLMErrorCode.BAD_STREAM, "the LLM server sent non-text content")
        if content:
            parts.append(content)
        if choice.get("finish_reason"):
            finished = True
    return "".join(parts), finished
