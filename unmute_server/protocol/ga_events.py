"""The server events in the OpenAI Realtime *GA* dialect, and the one translation into it.

The server makes every event in the beta dialect (:mod:`.events`); a connection that speaks GA
has each one passed through :func:`ga_events` on its way out. GA renames the answer's events
(``response.text.delta`` is ``response.output_text.delta``, ``response.audio.delta`` is
``response.output_audio.delta``, ``response.audio_transcript.*`` is
``response.output_audio_transcript.*``), names the assistant's content ``output_text`` and
``output_audio``, reports a new item with ``conversation.item.added`` where beta has
``conversation.item.created``, and follows it with ``conversation.item.done`` once the item is
final (a person's spoken turn: once its transcription has ``completed`` or ``failed``).
``session.updated`` carries the session in both shapes (``type: "realtime"`` and
``audio.output.voice`` beside beta's fields). Every other event is the same in both dialects.

Each model here validates against ``openai.types.realtime.RealtimeServerEvent`` (tests check
every one a real conversation produces). This module knows nothing of sockets.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, cast

from pydantic import Field, TypeAdapter

from unmute_server.protocol._models import ServerModel, new_event_id
from unmute_server.protocol.audio_events import (
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    ResponseAudioDelta,
    ResponseAudioDone,
    ResponseAudioTranscriptDelta,
    ResponseAudioTranscriptDone,
)
from unmute_server.protocol.events import (
    AnyServerEvent,
    CharactersListed,
    CharactersReloaded,
    ContentPart,
    ConversationItem,
    ConversationItemCreated,
    ErrorEvent,
    ItemStatus,
    RealtimeSession,
    Response,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseStatus,
    ResponseStatusDetails,
    ResponseTextDelta,
    ResponseTextDone,
    SessionCreated,
    SessionUpdated,
    realtime_session,
)

__all__ = [
    "GA_SERVER_EVENTS",
    "AnyGaServerEvent",
    "GaServerEvent",
    "ga_events",
]


# --------------------------------------------------------------------------- items


class GaTextContent(ServerModel):
    """Text in an item: ``input_text`` in a user's message, ``output_text`` in the assistant's."""

    type: Literal["input_text", "output_text"]
    text: str


class GaAudioContent(ServerModel):
    """Speech in an item: ``input_audio`` (the person), ``output_audio`` (a spoken answer)."""

    type: Literal["input_audio", "output_audio"]
    transcript: str | None


class GaConversationItem(ServerModel):
    """A message as GA's ``realtime.item``."""

    id: str
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["message"] = "message"
    status: ItemStatus
    role: Literal["user", "assistant"]
    content: list[GaTextContent | GaAudioContent]


class GaConversationItemAdded(ServerModel):
    """An item joined the conversation (GA's ``conversation.item.created``)."""

    type: Literal["conversation.item.added"] = "conversation.item.added"
    event_id: str = Field(default_factory=new_event_id)
    previous_item_id: str | None
    item: GaConversationItem


class GaConversationItemDone(ServerModel):
    """An item is final: a user's message at once, the assistant's when its answer ends."""

    type: Literal["conversation.item.done"] = "conversation.item.done"
    event_id: str = Field(default_factory=new_event_id)
    previous_item_id: str | None
    item: GaConversationItem


class GaResponseOutputItemAdded(ServerModel):
    type: Literal["response.output_item.added"] = "response.output_item.added"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    output_index: int = 0
    item: GaConversationItem


class GaResponseOutputItemDone(ServerModel):
    type: Literal["response.output_item.done"] = "response.output_item.done"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    output_index: int = 0
    item: GaConversationItem


class GaResponse(ServerModel):
    """A response as GA's ``realtime.response``."""

    id: str
    object: Literal["realtime.response"] = "realtime.response"
    status: ResponseStatus
    status_details: ResponseStatusDetails | None = None
    output: list[GaConversationItem]


class GaResponseCreated(ServerModel):
    type: Literal["response.created"] = "response.created"
    event_id: str = Field(default_factory=new_event_id)
    response: GaResponse


class GaResponseDone(ServerModel):
    type: Literal["response.done"] = "response.done"
    event_id: str = Field(default_factory=new_event_id)
    response: GaResponse


class GaSessionUpdated(ServerModel):
    """The session after an update, in both shapes (see :class:`.events.RealtimeSession`)."""

    type: Literal["session.updated"] = "session.updated"
    event_id: str = Field(default_factory=new_event_id)
    session: RealtimeSession


# --------------------------------------------------------------------------- the answer's stream


class GaOutputTextDelta(ServerModel):
    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    delta: str


class GaOutputTextDone(ServerModel):
    type: Literal["response.output_text.done"] = "response.output_text.done"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    text: str


class GaOutputAudioDelta(ServerModel):
    """The next piece of the answer's audio, base64, in the session's output format."""

    type: Literal["response.output_audio.delta"] = "response.output_audio.delta"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    delta: str


class GaOutputAudioDone(ServerModel):
    type: Literal["response.output_audio.done"] = "response.output_audio.done"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0


class GaOutputAudioTranscriptDelta(ServerModel):
    type: Literal["response.output_audio_transcript.delta"] = (
        "response.output_audio_transcript.delta"
    )
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    delta: str


class GaOutputAudioTranscriptDone(ServerModel):
    type: Literal["response.output_audio_transcript.done"] = "response.output_audio_transcript.done"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    transcript: str


AnyGaOnlyEvent = (
    GaConversationItemAdded
    | GaConversationItemDone
    | GaResponseOutputItemAdded
    | GaResponseOutputItemDone
    | GaResponseCreated
    | GaResponseDone
    | GaSessionUpdated
    | GaOutputTextDelta
    | GaOutputTextDone
    | GaOutputAudioDelta
    | GaOutputAudioDone
    | GaOutputAudioTranscriptDelta
    | GaOutputAudioTranscriptDone
)

#: The beta events GA replaces; every other beta event is sent to a GA client as it is.
_REPLACED: Final = frozenset(
    {
        "conversation.item.created",
        "response.output_item.added",
        "response.output_item.done",
        "response.created",
        "response.done",
        "session.updated",
        "response.text.delta",
        "response.text.done",
        "response.audio.delta",
        "response.audio.done",
        "response.audio_transcript.delta",
        "response.audio_transcript.done",
        # Sent as they are, then the person's item done (its transcript known, or not to be).
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
    }
)


#: Every event a GA connection may receive: the GA ones, and the beta ones GA shares.
AnyGaServerEvent = (
    AnyGaOnlyEvent
    | ErrorEvent
    | SessionCreated
    | CharactersReloaded
    | CharactersListed
    | ResponseContentPartAdded
    | ResponseContentPartDone
    | InputAudioBufferSpeechStarted
    | InputAudioBufferSpeechStopped
    | InputAudioBufferCommitted
    | InputAudioBufferCleared
    | InputAudioTranscriptionDelta
    | InputAudioTranscriptionCompleted
    | InputAudioTranscriptionFailed
)

GaServerEvent = Annotated[AnyGaServerEvent, Field(discriminator="type")]

#: Every event of the GA dialect (the source of its JSON Schema).
GA_SERVER_EVENTS: Final[TypeAdapter[AnyGaServerEvent]] = TypeAdapter(GaServerEvent)


def _ga_item(item: ConversationItem) -> GaConversationItem:
    content: list[GaTextContent | GaAudioContent] = []
    for part in item.content:
        if isinstance(part, ContentPart):
            text_kind: Literal["input_text", "output_text"] = (
                "input_text" if part.type == "input_text" else "output_text"
            )
            content.append(GaTextContent(type=text_kind, text=part.text))
        else:
            audio_kind: Literal["input_audio", "output_audio"] = (
                "input_audio" if part.type == "input_audio" else "output_audio"
            )
            content.append(GaAudioContent(type=audio_kind, transcript=part.transcript))
    return GaConversationItem(id=item.id, status=item.status, role=item.role, content=content)


def _awaits_transcript(item: GaConversationItem) -> bool:
    """A person's spoken turn before it is transcribed: its ``conversation.item.done`` waits
    for the transcription's ``completed`` (or ``failed``), as OpenAI's does."""
    return any(
        isinstance(part, GaAudioContent) and part.type == "input_audio" and part.transcript is None
        for part in item.content
    )


def _ga_response(response: Response) -> GaResponse:
    return GaResponse(
        id=response.id,
        status=response.status,
        status_details=response.status_details,
        output=[_ga_item(item) for item in response.output],
    )


#: The answer's stream: GA renames these events and keeps every field, so the GA form is the
#: same fields under the GA class (whose own ``type`` is the new name).
_RENAMED: Final[dict[type[ServerModel], type[AnyGaOnlyEvent]]] = {
    ResponseAudioDelta: GaOutputAudioDelta,
    ResponseTextDelta: GaOutputTextDelta,
    ResponseAudioTranscriptDelta: GaOutputAudioTranscriptDelta,
    ResponseTextDone: GaOutputTextDone,
    ResponseAudioDone: GaOutputAudioDone,
    ResponseAudioTranscriptDone: GaOutputAudioTranscriptDone,
}


def ga_events(event: AnyServerEvent) -> tuple[AnyGaServerEvent, ...]:
    """What a GA connection is sent for ``event``: its GA form (one event, or two where GA
    also reports an item done), or ``event`` itself when both dialects share it."""
    renamed = _RENAMED.get(type(event))
    if renamed is not None:  # the most frequent (audio and text deltas): looked up first
        fields = {name: value for name, value in event.__dict__.items() if name != "type"}
        return (renamed(**fields),)
    if event.type not in _REPLACED:
        return (cast(AnyGaServerEvent, event),)
    return _ga_lifecycle(event)


def _ga_lifecycle(event: AnyServerEvent) -> tuple[AnyGaServerEvent, ...]:
    if isinstance(event, ConversationItemCreated):
        item = _ga_item(event.item)
        added = GaConversationItemAdded(
            event_id=event.event_id, previous_item_id=event.previous_item_id, item=item
        )
        if item.status == "in_progress" or _awaits_transcript(item):
            return (added,)
        return (added, GaConversationItemDone(previous_item_id=event.previous_item_id, item=item))
    if isinstance(event, InputAudioTranscriptionCompleted | InputAudioTranscriptionFailed):
        transcript = (
            event.transcript if isinstance(event, InputAudioTranscriptionCompleted) else None
        )
        spoken = GaConversationItem(
            id=event.item_id,
            status="completed",
            role="user",
            content=[GaAudioContent(type="input_audio", transcript=transcript)],
        )
        return (event, GaConversationItemDone(previous_item_id=None, item=spoken))
    if isinstance(event, ResponseOutputItemAdded):
        return (
            GaResponseOutputItemAdded(
                event_id=event.event_id,
                response_id=event.response_id,
                output_index=event.output_index,
                item=_ga_item(event.item),
            ),
        )
    if isinstance(event, ResponseOutputItemDone):
        item = _ga_item(event.item)
        return (
            GaResponseOutputItemDone(
                event_id=event.event_id,
                response_id=event.response_id,
                output_index=event.output_index,
                item=item,
            ),
            GaConversationItemDone(previous_item_id=None, item=item),
        )
    if isinstance(event, ResponseCreated):
        return (GaResponseCreated(event_id=event.event_id, response=_ga_response(event.response)),)
    if isinstance(event, ResponseDone):
        return (GaResponseDone(event_id=event.event_id, response=_ga_response(event.response)),)
    if isinstance(event, SessionUpdated):
        return (GaSessionUpdated(event_id=event.event_id, session=realtime_session(event.session)),)
    raise AssertionError(f"{event.type} is listed as replaced in GA but has no GA form")
