"""The chat backend for any OpenAI-compatible server (vLLM, llama.cpp, Ollama, the hosted API).

It speaks through the official `openai` client so server-sent events are parsed by well-kept code,
and adds what a voice session needs on top: deadlines for the first token and the whole answer, one
`LLMError` code per way of failing, messages that never carry the API key, the URL or the upstream
body, and an upstream request that is closed the moment the consumer stops reading.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import openai
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from .backend import ChatMessage
from .errors import LLMError, LLMErrorCode
from .settings import LLMSettings

logger = logging.getLogger(__name__)

# Sent as the bearer token when no key is configured: local servers ignore it, and passing a value
# stops the SDK from picking up an unrelated OPENAI_API_KEY from the process environment.
NO_API_KEY = "unmute-no-key"

_LOGGED_DETAIL_LIMIT = 300


class OpenAICompatibleBackend:
    """Streams chat completions from one OpenAI-compatible server; one instance per process.

    The underlying `AsyncOpenAI` client keeps a connection pool, so create one backend at
    application start-up and close it with `aclose` at cleanup. Retries are off: in a live
    conversation a retried request only adds silence, and the client can simply ask again.
    """

    __slots__ = ("_client", "_settings")

    def __init__(self, settings: LLMSettings) -> None:
        self._settings = settings
        self._client = openai.AsyncOpenAI(
            base_url=settings.url,
            api_key=settings.api_key or NO_API_KEY,
            max_retries=0,
            # The read timeout bounds every wait for bytes, so it doubles as a stall detector
            # between tokens; the first-token and total deadlines are enforced in `stream`.
            timeout=openai.Timeout(
                settings.total_timeout,
                connect=settings.connect_timeout,
                read=settings.first_token_timeout,
            ),
        )

    @property
    def settings(self) -> LLMSettings:
        """The settings this backend was built with (the API key stays out of their repr)."""
        return self._settings

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.close()

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        """Yield the text deltas of one streamed chat completion; see `ChatBackend.stream`.

        Raises `LLMError` with code `llm_timeout` when no text arrives within
        `first_token_timeout` or the answer is not complete within `total_timeout`,
        `llm_unreachable` when the server cannot be connected to, `llm_http_error` for an HTTP
        error status or an error reported inside the stream, and `llm_bad_stream` when the stream
        is malformed or ends before a `finish_reason`.
        """
        settings = self._settings
        loop = asyncio.get_running_loop()
        started = loop.time()
        total_deadline = started + settings.total_timeout
        first_deadline = min(started + settings.first_token_timeout, total_deadline)
        extra: dict[str, Any] = {}
        if settings.max_tokens is not None:
            extra["max_tokens"] = settings.max_tokens
        try:
            async with asyncio.timeout_at(first_deadline):
                upstream = await self._client.chat.completions.create(
                    model=settings.model,
                    messages=[_message_param(message) for message in messages],
                    stream=True,
                    **extra,
                )
        except TimeoutError:
            raise self._deadline_error(first_token=True) from None
        except Exception as err:  # every failure of the request becomes one LLMError
            raise self._request_error(err) from None

        # Leaving this block for any reason (end, error, cancellation, the consumer's aclose)
        # closes the HTTP response, which drops the upstream connection if the body was not read
        # to the end: that is what stops the LLM server generating for a cancelled response.
        async with upstream:
            finished = False
            got_text = False
            while True:
                try:
                    async with asyncio.timeout_at(total_deadline if got_text else first_deadline):
                        chunk = await upstream.__anext__()
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise self._deadline_error(first_token=not got_text) from None
                except Exception as err:
                    raise self._stream_error(err) from None
                text, chunk_finished = _read_chunk(chunk)
                finished = finished or chunk_finished
                if text:
                    got_text = True
                    yield text
        if not finished:
            raise LLMError(
                LLMErrorCode.BAD_STREAM,
                "the LLM stream ended before the model finished its answer",
            )

    def _deadline_error(self, *, first_token: bool) -> LLMError:
        settings = self._settings
        if first_token and settings.first_token_timeout < settings.total_timeout:
            message = f"the LLM sent no text within {settings.first_token_timeout:g} s"
        else:
            message = f"the LLM answer took longer than {settings.total_timeout:g} s"
        return LLMError(LLMErrorCode.TIMEOUT, message)

    def _request_error(self, err: Exception) -> LLMError:
        """Map a failure before the stream started (connecting, sending, the status line)."""
        self._log(err, "request")
        if isinstance(err, openai.APITimeoutError):
            return LLMError(LLMErrorCode.TIMEOUT, "the LLM server did not answer in time")
        if isinstance(err, openai.APIConnectionError):
            return LLMError(LLMErrorCode.UNREACHABLE, "could not connect to the LLM server")
        if isinstance(err, openai.APIStatusError):
            reason = err.response.reason_phrase
            status = f"HTTP {err.status_code}" + (f" {reason}" if reason else "")
            return LLMError(LLMErrorCode.HTTP_ERROR, f"the LLM server answered {status}")
        if isinstance(err, openai.APIError):
            return LLMError(LLMErrorCode.BAD_STREAM, "the LLM server sent an unreadable answer")
        return LLMError(LLMErrorCode.UNREACHABLE, "the request to the LLM server failed")

    def _stream_error(self, err: Exception) -> LLMError:
        """Map a failure while reading the event stream."""
        self._log(err, "stream")
        if isinstance(err, openai.APITimeoutError):
            return LLMError(
                LLMErrorCode.TIMEOUT,
                f"the LLM stream stalled for more than {self._settings.first_token_timeout:g} s",
            )
        if isinstance(err, openai.APIConnectionError):
            return LLMError(
                LLMErrorCode.BAD_STREAM,
                "the LLM server closed the stream before the answer was complete",
            )
        if isinstance(err, openai.APIError):
            return LLMError(
                LLMErrorCode.HTTP_ERROR, "the LLM server reported an error in the stream"
            )
        return LLMError(LLMErrorCode.BAD_STREAM, "the LLM server sent a malformed stream")

    def _log(self, err: Exception, stage: str) -> None:
        # Server-side detail for the operator; still without the API key, and bounded in size.
        detail = str(err)
        key = self._settings.api_key
        if key:
            detail = detail.replace(key, "[api key]")
        if len(detail) > _LOGGED_DETAIL_LIMIT:
            detail = detail[:_LOGGED_DETAIL_LIMIT] + "..."
        logger.warning("LLM %s failed: %s: %s", stage, type(err).__name__, detail)


def _message_param(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "user":
        return {"role": "user", "content": message.content}
    return {"role": "assistant", "content": message.content}


def _read_chunk(chunk: ChatCompletionChunk) -> tuple[str, bool]:
    """Return the text of choice 0 in one chunk and whether the model said it has finished.

    The SDK builds chunks without validating them, so shapes are checked here: a chunk whose
    `choices` is not a list, or whose content is not a string, is a malformed stream.
    """
    choices: object = getattr(chunk, "choices", None)
    if not isinstance(choices, list):
        raise LLMError(LLMErrorCode.BAD_STREAM, "the LLM server sent a chunk without choices")
    parts: list[str] = []
    finished = False
    for choice in choices:
        if getattr(choice, "index", 0) != 0:
            continue
        delta: object = getattr(choice, "delta", None)
        content: object = getattr(delta, "content", None)
        if content is not None and not isinstance(content, str):
            raise LLMError(LLMErrorCode.BAD_STREAM, "the LLM server sent non-text content")
        if content:
            parts.append(content)
        if getattr(choice, "finish_reason", None):
            finished = True
    return "".join(parts), finished
