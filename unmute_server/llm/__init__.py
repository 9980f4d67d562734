"""Streaming chat completions from an OpenAI-compatible LLM server.

Public names live here; the modules hold one job each: `settings` (configuration), `errors` (the one
exception type and its codes), `backend` (the protocol the conversation layer codes against) and
`openai_backend` (the implementation over the official `openai` client).
"""

from .backend import ChatBackend, ChatMessage, Role
from .errors import LLMError, LLMErrorCode
from .openai_backend import OpenAICompatibleBackend
from .settings import LLMSettings, LLMSettingsError

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
