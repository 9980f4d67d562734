"""What the conversation layer needs from an LLM: stream the text of one chat completion.

The protocol is small on purpose so the conversation state machine does not know which library or
server answers, and a second backend (a local model, a recorded one) can stand in without changes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the chat sent upstream, in the chat-completions sense."""

    role: Role
    content: str


class ChatBackend(Protocol):
    """Streams chat completions. One instance serves every session of the process."""

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        """Yield the answer's text deltas in order; raise `LLMError` on any failure.

        The generator holds an upstream HTTP request open. Callers must close it when they stop
        early (`contextlib.aclosing`), so that a cancelled response closes that request at once
        rather than when the generator is garbage-collected.
        """
        ...

    async def aclose(self) -> None:
        """Release the connection pool; called once at application cleanup."""
        ...
