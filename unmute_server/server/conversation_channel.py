"""A session's conversation as the client sees it: client events in, server events out.

The WebSocket handler gives each session one :class:`ConversationChannel`, made on the
session's first conversation event (an idle session, or one that only browses characters,
pays nothing for it). The channel turns ``conversation.item.create``, ``response.create`` and
``response.cancel`` into calls on its
:class:`~unmute_server.conversation.conversation.Conversation`, and the records the
conversation reports into OpenAI Realtime (beta) events. It sends through the one callable it
is given, the connection's bounded writer: when that raises
:class:`~unmute_server.conversation.conversation.EmitStopped` (the client is too slow and is
being cut off) a streaming response stops at once and closes its upstream request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Final

from unmute_server.conversation.context_window import ContextWindow
from unmute_server.conversation.conversation import (
    NO_LLM_REASON,
    Conversation,
    ConversationRecord,
    DuplicateItemId,
    LLMObserver,
    ResponseFinished,
    ResponseInProgress,
    ResponseStarted,
    TextDelta,
    TextDone,
)
from unmute_server.llm import ChatBackend, LLMError
from unmute_server.protocol.events import (
    AnyServerEvent,
    AudioContentPart,
    ContentPart,
    ConversationItem,
    ConversationItemCreate,
    ConversationItemCreated,
    ErrorCode,
    Response,
    ResponseCancel,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseError,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponsePart,
    ResponseStatusDetails,
    ResponseTextDelta,
    ResponseTextDone,
    error_event,
)
from unmute_server.server import metrics
from unmute_server.voice.speaker import Speaker

Send = Callable[[AnyServerEvent], None]
"""Queues one event for the client; raises ``EmitStopped`` when the client is too far behind."""

SpeakerFactory = Callable[[str, str], Speaker]
"""Makes the speaker of one answer from its ``(response_id, item_id)``: a spoken response."""

#: Latencies and failures of every session's responses go to the Prometheus metrics.
OBSERVER: Final = LLMObserver(
    first_token=metrics.llm_first_token,
    finished=metrics.llm_response_finished,
    failed=metrics.llm_failed,
)

_CANCELLED: Final = ResponseStatusDetails(type="cancelled", reason="client_cancelled")


def new_item_id() -> str:
    """An id for a user item the client did not name, shaped like OpenAI's ``item_...``."""
    return "item_" + uuid.uuid4().hex[:24]


class ConversationChannel:
    """One session's conversation events; lives as long as the connection (then :meth:`aclose`)."""

    __slots__ = ("_responding", "_send", "conversation")

    def __init__(
        self,
        backend: ChatBackend | None,
        send: Send,
        system_prompt: str | None,
        *,
        unavailable_reason: str = NO_LLM_REASON,
        window: ContextWindow | None = None,
    ) -> None:
        self.conversation = Conversation(
            backend, observer=OBSERVER, unavailable_reason=unavailable_reason, window=window
        )
        self.conversation.set_system_prompt(system_prompt)
        self._send = send
        #: The events of the response in progress (for barge-in on a spoken one).
        self._responding: _ResponseEvents | None = None

    @property
    def speaking(self) -> bool:
        """Whether a spoken answer is in progress (its text or its audio)."""
        events = self._responding
        return events is not None and events.speaker is not None and not events.done

    def set_system_prompt(self, prompt: str | None) -> None:
        """The session's prompt changed (another character, a reload): use it from now on."""
        self.conversation.set_system_prompt(prompt)

    def add_item(self, event: ConversationItemCreate) -> None:
        """Append the user's message; answer ``conversation.item.created`` or an error."""
        message = event.item
        item_id = message.id if message.id is not None else new_item_id()
        conversation = self.conversation
        previous = conversation.last_item_id
        try:
            conversation.add_user_text(item_id, message.text)
        except DuplicateItemId as duplicate:
            self._send(
                error_event(
                    ErrorCode.DUPLICATE_ITEM_ID,
                    duplicate.message,
                    event_id=event.event_id,
                    param="item.id",
                )
            )
            return
        self._send(
            ConversationItemCreated(
                previous_item_id=previous,
                item=ConversationItem(
                    id=item_id,
                    status="completed",
                    role="user",
                    content=[
                        ContentPart(type="input_text", text=part.text) for part in message.content
                    ],
                ),
            )
        )

    async def respond(self, event: ResponseCreate, *, speak: SpeakerFactory | None = None) -> None:
        """Start a response (``response.created`` answers; the stream follows), or an error."""
        await self.start(event.event_id, speak=speak)

    async def start(self, event_id: str | None, *, speak: SpeakerFactory | None = None) -> bool:
        """Start a response, spoken when ``speak`` is given; ``False`` (and an ``error``) when
        one is already in progress or there is no LLM."""
        events = _ResponseEvents(self._send, event_id, self.conversation, speak)
        try:
            await self.conversation.start_response(events.emit)
        except ResponseInProgress as busy:
            self._send(
                error_event(
                    ErrorCode.CONVERSATION_ALREADY_HAS_ACTIVE_RESPONSE,
                    busy.message,
                    event_id=event_id,
                )
            )
            return False
        except LLMError as refused:  # llm_unavailable, llm_context_exceeded: no response
            self._send(
                error_event(ErrorCode(refused.code.value), refused.message, event_id=event_id)
            )
            return False
        self._responding = events
        return True

    async def interrupt(self) -> bool:
        """Barge-in: stop the spoken answer now (no more audio), and the LLM stream if it is
        still running; ``response.done`` says ``cancelled``, and the history keeps what was
        heard. ``False`` when no spoken answer is in progress."""
        events = self._responding
        if events is None or events.speaker is None or events.done:
            return False
        await events.interrupt()
        await self.conversation.cancel_response()
        return True

    async def cancel(self, event: ResponseCancel) -> None:
        """Stop the response in progress; ``response.done`` (cancelled) answers, or an error.

        As OpenAI does, a cancel with nothing in progress (or naming another response) is an
        ``error`` with code ``response_cancel_not_active``.
        """
        conversation = self.conversation
        active = conversation.active_response_id
        wanted = event.response_id
        if wanted is not None and wanted != active:
            shown = wanted if len(wanted) <= 64 else wanted[:64] + "..."
            self._refuse_cancel(event, f"response {shown!r} is not in progress", "response_id")
            return
        if not await conversation.cancel_response():
            self._refuse_cancel(event, "no response is in progress", None)

    def _refuse_cancel(self, event: ResponseCancel, message: str, param: str | None) -> None:
        self._send(
            error_event(
                ErrorCode.RESPONSE_CANCEL_NOT_ACTIVE,
                f"cancellation failed: {message}",
                event_id=event.event_id,
                param=param,
            )
        )

    async def aclose(self) -> None:
        """Stop any response without a word (the client is gone) and close its upstream request."""
        events = self._responding
        if events is not None and events.speaker is not None:
            await events.speaker.aclose()
        await self.conversation.aclose()


class _ResponseEvents:
    """The events of one response: made per ``response.create``, fed its records in order.

    It remembers the assistant's item and final text, so ``response.done`` can carry the
    output as OpenAI's does, and the ``event_id`` of the ``response.create`` that asked, so a
    failure's ``error`` event names it.
    """

    __slots__ = (
        "_conversation",
        "_send",
        "_speak",
        "done",
        "event_id",
        "item_id",
        "speaker",
        "text",
    )

    def __init__(
        self,
        send: Send,
        event_id: str | None,
        conversation: Conversation,
        speak: SpeakerFactory | None = None,
    ) -> None:
        self._send = send
        self._conversation = conversation
        self._speak = speak
        self.event_id = event_id
        self.item_id: str | None = None
        self.text = ""
        #: The answer's voice, made when the response starts, when it is spoken.
        self.speaker: Speaker | None = None
        self.done = False

    async def interrupt(self) -> None:
        """Stop the answer's audio; the history keeps only what was heard."""
        speaker = self.speaker
        if speaker is not None and not speaker.interrupted:
            self.text = await speaker.interrupt()
            self._conversation.cut_answer(self.text)

    async def emit(self, record: ConversationRecord) -> None:
        send = self._send
        if isinstance(record, TextDelta):
            send(
                ResponseTextDelta(
                    response_id=record.response_id, item_id=record.item_id, delta=record.delta
                )
            )
            if self.speaker is not None:
                await self.speaker.text(record.delta)
        elif isinstance(record, ResponseStarted):
            response = Response(id=record.response_id, status="in_progress", output=[])
            send(ResponseCreated(response=response))
            self._item_started(record)
            if self._speak is not None:
                self.speaker = self._speak(record.response_id, record.item_id)
        elif isinstance(record, TextDone):
            self.item_id = record.item_id
            self.text = record.text
            send(
                ResponseTextDone(
                    response_id=record.response_id, item_id=record.item_id, text=record.text
                )
            )
        else:
            await self._finish_speaking(record)
            self.done = True
            self._finished(record)

    def _item_started(self, record: ResponseStarted) -> None:
        """The assistant's item and its one part exist: ``text``, or ``audio`` when spoken."""
        self.item_id = record.item_id
        item = ConversationItem(
            id=record.item_id, status="in_progress", role="assistant", content=[]
        )
        send = self._send
        send(ResponseOutputItemAdded(response_id=record.response_id, item=item))
        send(ConversationItemCreated(previous_item_id=self._conversation.last_item_id, item=item))
        send(
            ResponseContentPartAdded(
                response_id=record.response_id,
                item_id=record.item_id,
                part=ResponsePart(type="audio", transcript="")
                if self._speak is not None
                else ResponsePart(type="text", text=""),
            )
        )

    def _item_done(self, response_id: str, item: ConversationItem) -> None:
        """The part and the item are final, just before ``response.done``."""
        spoken = self._speak is not None
        self._send(
            ResponseContentPartDone(
                response_id=response_id,
                item_id=item.id,
                part=ResponsePart(type="audio", transcript=self.text)
                if spoken
                else ResponsePart(type="text", text=self.text),
            )
        )
        self._send(ResponseOutputItemDone(response_id=response_id, item=item))

    async def _finish_speaking(self, record: ResponseFinished) -> None:
        """Before ``response.done``: the answer's audio is all out (or stopped)."""
        speaker = self.speaker
        if speaker is None:
            return
        if record.status == "completed":
            self.text = await speaker.finish()
        else:
            await self.interrupt()

    def _finished(self, record: ResponseFinished) -> None:
        status = record.status
        if status == "completed" and self.speaker is not None and self.speaker.interrupted:
            status = "cancelled"  # the words were all written, but not all heard
        output: list[ConversationItem] = []
        if self.item_id is not None:
            content: ContentPart | AudioContentPart = (
                AudioContentPart(type="audio", transcript=self.text)
                if self._speak is not None
                else ContentPart(type="text", text=self.text)
            )
            item = ConversationItem(
                id=self.item_id,
                status="completed" if status == "completed" else "incomplete",
                role="assistant",
                content=[content],
            )
            self._item_done(record.response_id, item)
            output.append(item)
        error = record.error
        if status == "completed":
            details = None
        elif error is None:
            details = _CANCELLED
        else:
            details = ResponseStatusDetails(
                type="failed",
                error=ResponseError(code=ErrorCode(error.code.value), message=error.message),
            )
        send = self._send
        send(
            ResponseDone(
                response=Response(
                    id=record.response_id, status=status, status_details=details, output=output
                )
            )
        )
        if error is not None:
            send(error_event(ErrorCode(error.code.value), error.message, event_id=self.event_id))
