"""One session's conversation: chat history, system prompt, and one streamed answer at a time.

The state machine knows nothing of WebSockets or the protocol: it reports what happens as plain
records (`ResponseStarted`, `TextDelta`, `TextDone`, `ResponseFinished`) through an `emit` callback
that the WebSocket layer supplies and turns into server events. It knows nothing of Prometheus
either: an `LLMObserver` of plain callables receives latencies and failures.

Life of a response: `start_response` emits `ResponseStarted` and returns; a task streams the LLM's
deltas as `TextDelta`s; the end is always one `TextDone` (when any text was produced, or on
completion) and exactly one `ResponseFinished` with status `completed`, `cancelled` or `failed`.
`cancel_response` stops the stream and closes the upstream request before it returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal

from unmute_server.llm import ChatBackend, ChatMessage, LLMError, LLMErrorCode

from .context_window import ContextWindow

logger = logging.getLogger(__name__)

ResponseStatus = Literal["completed", "cancelled", "failed"]

#: What a response is refused with when the server runs without an LLM.
NO_LLM_REASON = "no LLM is configured on this server"
HistoryRole = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    """A response was accepted; `item_id` is the assistant item its text will fill."""

    response_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the assistant's text, in order."""

    response_id: str
    item_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class TextDone:
    """The assistant's text for this response is final (complete, or as far as it got)."""

    response_id: str
    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ResponseFinished:
    """The response is over; `error` is set exactly when `status` is `failed`."""

    response_id: str
    status: ResponseStatus
    error: LLMError | None = None


ConversationRecord = ResponseStarted | TextDelta | TextDone | ResponseFinished
Emit = Callable[[ConversationRecord], Awaitable[None]]
"""Delivers one record to the client; awaited in order, so records arrive in the order made."""


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One message of the chat history as the client has seen it."""

    item_id: str
    role: HistoryRole
    text: str


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    """How much history a session keeps; the oldest messages go first.

    Every kept message is sent with every request, so the history is what a session costs in memory
    and what each answer costs in prompt tokens and time to first token. A spoken conversation
    rarely refers back further than a few dozen turns, and the model's context window is finite;
    the character cap bounds the cost of a few very long messages. The newest message is always
    kept, and a trimmed history starts with a user message, so that no answer is kept without
    the question it answered.
    """

    max_items: int = 40
    max_chars: int = 24_000

    def __post_init__(self) -> None:
        if self.max_items < 1 or self.max_chars < 1:
            raise ValueError("history limits must be at least 1")


DEFAULT_HISTORY_LIMITS = HistoryLimits()


def _ignore(*_: object) -> None:
    return None


@dataclass(frozen=True, slots=True)
class LLMObserver:
    """Callables the metrics layer supplies; each defaults to doing nothing.

    `first_token(seconds)` from the start of a response to its first text; `finished(seconds,
    status)` once per response that reached the LLM; `failed(code)` once per failed response,
    including `llm_unavailable` refusals. They run on the event loop and must not block.
    """

    first_token: Callable[[float], None] = _ignore
    finished: Callable[[float, ResponseStatus], None] = _ignore
    failed: Callable[[LLMErrorCode], None] = _ignore


class EmitStopped(Exception):
    """Raised by an `emit` callback whose client can take no more (it is being disconnected).

    The response stops at once and quietly: its upstream request is closed, nothing more is
    emitted and nothing is logged, since the connection's own code is already dealing with it.
    """


class ConversationError(Exception):
    """A request the conversation refuses; `code` is the protocol error code to answer with."""

    code = "conversation_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ResponseInProgress(ConversationError):
    """A response was requested while another one is still streaming."""

    code = "conversation_already_has_active_response"


class DuplicateItemId(ConversationError):
    """A conversation item was added with an id the history already holds."""

    code = "duplicate_item_id"


class _Entry:
    """A history message; the assistant's is filled in when its response ends."""

    __slots__ = ("item_id", "role", "text")

    def __init__(self, item_id: str, role: HistoryRole, text: str) -> None:
        self.item_id = item_id
        self.role: HistoryRole = role
        self.text = text


class _Response:
    """The one response in progress and what its task needs to finish it."""

    __slots__ = (
        "cancel_requested",
        "emit",
        "entry",
        "finishing",
        "heard",
        "parts",
        "response_id",
        "silent",
        "started",
        "task",
    )

    def __init__(self, response_id: str, entry: _Entry, emit: Emit, started: float) -> None:
        self.response_id = response_id
        self.entry = entry
        self.emit = emit
        self.started = started
        self.parts: list[str] = []
        #: What a spoken answer cut short was heard up to (``None``: all of it was).
        self.heard: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.cancel_requested = False
        self.silent = False
        self.finishing = False


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


class Conversation:
    """Chat history, system prompt and the response lifecycle of one session.

    The backend is shared by every session (one connection pool per process); everything else here
    belongs to this session alone. `backend=None` means no LLM is available: the conversation
    still records items, and `start_response` answers `LLMError('llm_unavailable')` with
    `unavailable_reason` as its message. `window`, when the LLM's context is known, is what
    every request is fitted into (the oldest turns left out); `None` sends the whole history.
    """

    __slots__ = (
        "_active",
        "_backend",
        "_control",
        "_history",
        "_limits",
        "_observer",
        "_prompt",
        "_unavailable_reason",
        "_window",
    )

    def __init__(
        self,
        backend: ChatBackend | None,
        *,
        limits: HistoryLimits = DEFAULT_HISTORY_LIMITS,
        observer: LLMObserver | None = None,
        unavailable_reason: str = NO_LLM_REASON,
        window: ContextWindow | None = None,
    ) -> None:
        self._backend = backend
        self._window = window
        self._unavailable_reason = unavailable_reason
        self._limits = limits
        self._observer = observer if observer is not None else LLMObserver()
        self._prompt: str | None = None
        self._history: list[_Entry] = []
        self._active: _Response | None = None
        # Serialises start and cancel, so a cancel never sees a response half-way started.
        self._control = asyncio.Lock()

    @property
    def system_prompt(self) -> str | None:
        """The system prompt the next response will be sent with."""
        return self._prompt

    def set_system_prompt(self, prompt: str | None) -> None:
        """Use `prompt` from the next response on (a response already streaming keeps its own).

        Called when the session's character changes; the history is kept, so the new character
        takes over the conversation where it stands.
        """
        self._prompt = prompt or None

    @property
    def history(self) -> tuple[HistoryItem, ...]:
        """The kept messages, oldest first; an assistant message appears when its response ends."""
        return tuple(
            HistoryItem(entry.item_id, entry.role, entry.text)
            for entry in self._history
            if entry.role == "user" or entry.text
        )

    @property
    def last_item_id(self) -> str | None:
        """The id of the newest item (a user message, or the answer being streamed), if any."""
        return self._history[-1].item_id if self._history else None

    @property
    def active_response_id(self) -> str | None:
        """The id of the response in progress, if any."""
        return self._active.response_id if self._active is not None else None

    def add_user_text(self, item_id: str, text: str) -> None:
        """Append a user message; allowed while a response streams (it then follows that answer)."""
        if any(entry.item_id == item_id for entry in self._history):
            raise DuplicateItemId(f"the conversation already has an item with id {item_id!r}")
        self._history.append(_Entry(item_id, "user", text))
        self._trim()

    def cut_answer(self, heard: str) -> None:
        """The answer in progress was spoken and cut short (barge-in): the person heard only
        ``heard``. The history keeps that instead of everything the model wrote, so the model
        knows what it said and what it did not."""
        if self._active is not None:
            self._active.heard = heard

    async def start_response(self, emit: Emit) -> str:
        """Start answering the conversation as it stands; return the new response's id.

        `ResponseStarted` has been emitted when this returns; the rest of the records follow from a
        task. Raises `ResponseInProgress` while another response streams, and `LLMError` with code
        `llm_unavailable` when no LLM is configured, or `llm_context_exceeded` when the system
        prompt and the message to answer do not fit the LLM's context (no response is created
        then).
        """
        async with self._control:
            await self._wait_if_finishing()
            if self._active is not None:
                raise ResponseInProgress(
                    f"response {self._active.response_id} is still in progress; "
                    "cancel it or wait for response.done"
                )
            backend = self._backend
            if backend is None:
                self._observer.failed(LLMErrorCode.UNAVAILABLE)
                raise LLMError(LLMErrorCode.UNAVAILABLE, self._unavailable_reason)
            messages = self._messages()
            if self._window is not None:
                try:
                    messages = self._window.fit(messages)
                except LLMError as refused:
                    self._observer.failed(refused.code)
                    raise
            messages = _merge_neighbours(messages)
            entry = _Entry(_new_id("item"), "assistant", "")
            active = _Response(_new_id("resp"), entry, emit, time.monotonic())
            self._active = active
            try:
                await emit(ResponseStarted(active.response_id, entry.item_id))
            except BaseException:
                self._active = None
                raise
            # The assistant's place in the history is where the response started, so a user
            # message added while it streams follows it.
            self._history.append(entry)
            active.task = asyncio.create_task(
                self._run(active, backend, messages), name=f"conversation {active.response_id}"
            )
            return active.response_id

    async def cancel_response(self) -> bool:
        """Stop the response in progress; return False when there is none to stop.

        When this returns True, the upstream request is closed and `TextDone` (if any text was
        produced) and `ResponseFinished(status="cancelled")` have been emitted. A response whose
        stream had already ended is not cancelled: its own closing records are awaited instead.
        """
        async with self._control:
            active = self._active
            if active is None or active.task is None:
                return False
            if active.finishing:
                await asyncio.wait({active.task})
                return False
            active.cancel_requested = True
            active.task.cancel()
            await asyncio.wait({active.task})
            if self._active is active:
                # Cancelled before its first step: the task never ran, so finish it here.
                await self._finish(active, "cancelled", None)
            return True

    async def aclose(self) -> None:
        """Stop any response without emitting anything; for a session whose socket is gone."""
        async with self._control:
            active = self._active
            if active is None:
                return
            active.silent = True
            active.cancel_requested = True
            if active.task is not None:
                active.task.cancel()
                await asyncio.wait({active.task})
            self._settle(active)

    async def _wait_if_finishing(self) -> None:
        active = self._active
        if active is not None and active.finishing and active.task is not None:
            await asyncio.wait({active.task})

    async def _run(
        self, active: _Response, backend: ChatBackend, messages: list[ChatMessage]
    ) -> None:
        status: ResponseStatus = "completed"
        error: LLMError | None = None
        try:
            # aclosing: leaving early (cancel, a failing emit) closes the generator now, and with
            # it the upstream HTTP request, instead of whenever it is garbage-collected.
            async with aclosing(backend.stream(messages)) as deltas:
                async for delta in deltas:
                    if not active.parts:
                        self._observer.first_token(time.monotonic() - active.started)
                    active.parts.append(delta)
                    await active.emit(TextDelta(active.response_id, active.entry.item_id, delta))
        except asyncio.CancelledError:
            if not active.cancel_requested or active.silent:
                self._settle(active)
                raise
            # Our own cancel_response: the stream is closed; finish normally from here.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            status = "cancelled"
        except LLMError as err:
            status, error = "failed", err
        except EmitStopped:
            self._settle(active)
            return
        except Exception:
            # Not the LLM (the backend raises only LLMError): emitting failed, so the client
            # cannot be told anything more. Keep the state consistent and stop.
            logger.exception("response %s stopped: emitting an event failed", active.response_id)
            self._settle(active)
            return
        await self._finish(active, status, error)

    async def _finish(
        self, active: _Response, status: ResponseStatus, error: LLMError | None
    ) -> None:
        active.finishing = True
        self._observer.finished(time.monotonic() - active.started, status)
        if error is not None:
            self._observer.failed(error.code)
        text = "".join(active.parts)
        try:
            if text or status == "completed":
                await active.emit(TextDone(active.response_id, active.entry.item_id, text))
            await active.emit(ResponseFinished(active.response_id, status, error))
        except EmitStopped:
            pass
        except Exception:
            logger.exception("response %s: emitting its end failed", active.response_id)
        finally:
            self._settle(active)

    def _settle(self, active: _Response) -> None:
        """Record what the client was shown and free the response slot.

        Partial text is kept on cancel and failure too: the client has shown (or spoken) it, so
        the model must know it said it, or its next answer would repeat or contradict it.
        """
        if self._active is not active:
            return
        self._active = None
        active.entry.text = active.heard if active.heard is not None else "".join(active.parts)
        if not active.entry.text and active.entry in self._history:
            self._history.remove(active.entry)
        self._trim()

    def _trim(self) -> None:
        history = self._history
        limits = self._limits
        trimmed = False
        while len(history) > 1 and (
            len(history) > limits.max_items
            or sum(len(entry.text) for entry in history) > limits.max_chars
        ):
            del history[0]
            trimmed = True
        # Cut at a turn boundary: a trimmed window starts with the user's words, never with an
        # answer to a question that is gone. (An untrimmed history may start with the assistant:
        # a character that speaks first.)
        while trimmed and len(history) > 1 and history[0].role == "assistant":
            del history[0]

    def _messages(self) -> list[ChatMessage]:
        """The request before fitting and merging: the system prompt, then the history.

        Fitting comes before merging, so that a message left out is one of the history's own
        (a very long message that can never fit is left out alone, not merged into the next).
        """
        messages: list[ChatMessage] = []
        if self._prompt:
            messages.append(ChatMessage("system", self._prompt))
        messages.extend(
            ChatMessage(entry.role, entry.text) for entry in self._history if entry.text
        )
        return messages


def _merge_neighbours(messages: list[ChatMessage]) -> list[ChatMessage]:
    """`messages` with same-role neighbours merged into one.

    Merging keeps the strict user/assistant alternation some chat templates demand when the
    client sends two user messages in a row, or a response was cancelled before any text.
    """
    merged: list[ChatMessage] = []
    for message in messages:
        if merged and merged[-1].role == message.role:
            merged[-1] = ChatMessage(message.role, f"{merged[-1].content}\n\n{message.content}")
        else:
            merged.append(message)
    return merged
