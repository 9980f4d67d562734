"""Streaming chat completions from an OpenAI-compatible LLM server.

Public names live here; the modules hold one job each: `settings` (configuration: which LLM, and
its settings), `errors` (the one exception type and its codes), `backend` (the protocol the
conversation layer codes against), `openai_backend` (the implementation for OpenAI-compatible
servers, over aiohttp's client), `_sse` (its event-stream decoder), `slots` (a fair, bounded
queue in front of a backend), `embedded` (llama.cpp's server over the bundled model) and
`embedded_process` (that server as an `unmute-server llm-serve` child).

`OpenAICompatibleBackend` is imported on first use: aiohttp takes about a fifth of a second to
import, and the settings and errors are needed by every `unmute-server` command (`lint` in a
pre-commit hook included) while only a serving process talks to an LLM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backend import ChatBackend, ChatMessage, Role
from .errors import LLMError, LLMErrorCode
from .settings import LLMSettings, LLMSettingsError

if TYPE_CHECKING:
    from .openai_backend import OpenAICompatibleBackend

__all__ = [
    "ChatBackend",
    "ChatMessage",
    "LLMError",
    "LLMErrorCode",
    "LLMSettings",
    "LLMSettingsError",
    "OpenAICompatibleBackend",
    "Role",
]


def __getattr__(name: str) -> Any:
    if name == "OpenAICompatibleBackend":
        from .openai_backend import OpenAICompatibleBackend

        return OpenAICompatibleBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
