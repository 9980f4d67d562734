"""The one exception every LLM backend failure becomes.

The WebSocket layer turns an `LLMError` into a `response.done` with status `failed` and an
`error` event, so the code is part of the public protocol and the message is shown to clients: it
never holds the API key, the LLM server's URL, or the upstream response body.
"""

from __future__ import annotations

import enum


class LLMErrorCode(enum.StrEnum):
    """Stable codes for the ways a chat-completion request can fail."""

    TIMEOUT = "llm_timeout"
    """No first token, or no end of the answer, within the configured time."""
    UNREACHABLE = "llm_unreachable"
    """The LLM server could not be connected to (refused, unresolvable, reset before answering)."""
    HTTP_ERROR = "llm_http_error"
    """The LLM server answered with an HTTP error status, or reported an error inside the stream."""
    BAD_STREAM = "llm_bad_stream"
    """The stream was malformed, or ended before the model said it had finished."""
    UNAVAILABLE = "llm_unavailable"
    """No LLM is configured on this server."""
    CONTEXT_EXCEEDED = "llm_context_exceeded"
    """The system prompt, or it and the message to answer, do not fit the LLM's context."""


class LLMError(Exception):
    """A failed chat-completion request, with a stable `code` and a client-safe `message`."""

    def __init__(self, code: LLMErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"LLMError({self.code.value!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LLMError):
            return NotImplemented
        return (self.code, self.message) == (other.code, other.message)

    def __hash__(self) -> int:
        return hash((self.code, self.message))
