"""Every WebSocket event, client and server, as a pydantic model (DESIGN 5).

The shapes follow the OpenAI Realtime API and the peer (kyutai-labs/unmute) that speaks it:
every event has a ``type`` and may carry an ``event_id``; an error is an ``error`` event with
the details nested in ``error`` and the ``event_id`` of the client event that caused it.
Two discriminated unions, :data:`ClientEvent` and :data:`ServerEvent`, are the source of the
committed JSON Schemas. This module knows nothing of files, packs or sockets.

Client events ignore fields they do not know, at the top level and inside ``session``: the
official OpenAI SDK sends many (``modalities``, ``turn_detection``, ``input_audio_format``...)
that this server has no use for, and refusing them would refuse those clients.

The conversation events follow the OpenAI Realtime *beta* API (``response.text.delta``, not
the GA API's ``response.output_text.delta``), text only: ``conversation.item.create`` with a
user text message, ``response.create``, ``response.cancel``; answered by
``conversation.item.created``, ``response.created``, ``response.text.delta``,
``response.text.done`` and ``response.done``.
"""

from __future__ import annotations

import enum
import itertools
import json
import secrets
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

#: Longest ``event_id`` a client may send (and so the longest this server ever echoes).
MAX_EVENT_ID_LENGTH: Final = 256

EventId = Annotated[str, Field(max_length=MAX_EVENT_ID_LENGTH)]


#: Ten random characters per process, then a counter: ids are unique within a process and
#: practically across processes, without a ``getrandom`` system call for every event sent
#: (an id names an event; it guards nothing, so it need not be unpredictable).
_EVENT_ID_PREFIX: Final = "event_" + secrets.token_urlsafe(8)[:10]
_event_numbers = itertools.count()


def new_event_id() -> str:
    """A fresh server event id: ``event_`` + 21 characters, like the peer's."""
    return f"{_EVENT_ID_PREFIX}{next(_event_numbers):011x}"


# --------------------------------------------------------------------------- client events


class _ClientModel(BaseModel):
    # Strict: "allow_recording": "no" is an error, not a guess (it is a consent flag).
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class SessionConfigUpdate(_ClientModel):
    """The part of ``session.update`` this server reads; anything else is ignored.

    ``voice`` names a character in the session's current pack; ``instructions`` is a system
    prompt used as given when no character is chosen; ``allow_recording`` is the peer's
    consent flag. A field left out keeps its current value.
    """

    voice: str | None = None
    instructions: str | None = None
    allow_recording: bool | None = None


class SessionUpdate(_ClientModel):
    """Choose a character (``session.voice``) or set instructions for this session."""

    type: Literal["session.update"]
    event_id: EventId | None = None
    session: SessionConfigUpdate


class CharactersReload(_ClientModel):
    """Load pack ``pack`` (a folder name under the packs root, or ``"default"``).

    ``directory`` is the peer's name for the same field and is accepted as an alias.
    With ``strict`` any error diagnostic keeps the session's current pack.
    """

    # The validator below requires one of the two names; the schema says so too.
    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["pack"]}, {"required": ["directory"]}]}
    )

    type: Literal["session.characters.reload"]
    event_id: EventId | None = None
    pack: str | None = None
    directory: str | None = Field(default=None, description="legacy alias of pack")
    strict: bool = False

    @model_validator(mode="after")
    def _one_pack_name(self) -> CharactersReload:
        if self.pack is None and self.directory is None:
            raise ValueError("give the pack to load in 'pack'")
        if self.pack is not None and self.directory is not None and self.pack != self.directory:
            raise ValueError("'pack' and its legacy alias 'directory' name different packs")
        return self

    @property
    def pack_name(self) -> str:
        """The pack asked for, from ``pack`` or its alias ``directory``."""
        # The validator guarantees one of them is set.
        return self.pack if self.pack is not None else (self.directory or "")


class CharactersList(_ClientModel):
    """List the characters of the session's current pack."""

    type: Literal["session.characters.list"]
    event_id: EventId | None = None


#: Longest item id a client may give (OpenAI's own ids are 32 characters or fewer).
MAX_ITEM_ID_LENGTH: Final = 64

ItemId = Annotated[str, Field(min_length=1, max_length=MAX_ITEM_ID_LENGTH)]


class InputText(_ClientModel):
    """One text part of a user message."""

    type: Literal["input_text"]
    text: str


class UserMessage(_ClientModel):
    """A user's text message, the one kind of item this server adds to a conversation.

    ``id`` is the client's name for the item (one is made up when it is left out); fields the
    OpenAI SDK may add (``object``, ``status``) are ignored. Other roles and other content
    (audio, item references) are refused with an error naming the field.
    """

    id: ItemId | None = None
    type: Literal["message"] = "message"
    role: Literal["user"]
    content: list[InputText] = Field(min_length=1)

    @property
    def text(self) -> str:
        """The message's text parts, one per line."""
        return "\n".join(part.text for part in self.content)


class ConversationItemCreate(_ClientModel):
    """Add a user message to the session's conversation (``previous_item_id`` is ignored:
    items are always appended)."""

    type: Literal["conversation.item.create"]
    event_id: EventId | None = None
    previous_item_id: str | None = None
    item: UserMessage


class ResponseCreate(_ClientModel):
    """Ask the character to answer the conversation as it stands.

    The optional ``response`` object the OpenAI SDK may send (modalities, instructions,
    voice...) is ignored: the session's character decides how to answer.
    """

    type: Literal["response.create"]
    event_id: EventId | None = None


class ResponseCancel(_ClientModel):
    """Stop the response in progress; ``response_id``, when given, must name it."""

    type: Literal["response.cancel"]
    event_id: EventId | None = None
    response_id: str | None = None


AnyClientEvent = (
    SessionUpdate
    | CharactersReload
    | CharactersList
    | ConversationItemCreate
    | ResponseCreate
    | ResponseCancel
)

ClientEvent = Annotated[AnyClientEvent, Field(discriminator="type")]

#: The fast path for every text frame: one ``validate_json`` call.
CLIENT_EVENTS: Final[TypeAdapter[AnyClientEvent]] = TypeAdapter(ClientEvent)

CLIENT_EVENT_TYPES: Final[tuple[str, ...]] = (
    "session.update",
    "session.characters.reload",
    "session.characters.list",
    "conversation.item.create",
    "response.create",
    "response.cancel",
)


# --------------------------------------------------------------------------- server events


class _ServerModel(BaseModel):
    # Serialization schemas list defaulted fields as required: the server always sends them.
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )


class ErrorCode(enum.StrEnum):
    """Every ``error.code`` this server sends. Stable: clients match on them."""

    DIRECTORY_NOT_FOUND = "directory_not_found"
    INVALID_DIRECTORY_FORMAT = "invalid_directory_format"
    PACK_OUTSIDE_ROOT = "pack_outside_root"
    PACK_CHANGED_DURING_READ = "pack_changed_during_read"
    NO_VALID_CHARACTERS = "no_valid_characters"
    PACK_TOO_COSTLY = "pack_too_costly"
    STRICT_REJECTED = "strict_rejected"
    UNKNOWN_CHARACTER = "unknown_character"
    INVALID_EVENT = "invalid_event"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_SESSIONS = "too_many_sessions"
    INTERNAL_ERROR = "internal_error"
    DUPLICATE_ITEM_ID = "duplicate_item_id"
    CONVERSATION_ALREADY_HAS_ACTIVE_RESPONSE = "conversation_already_has_active_response"
    #: OpenAI's code for a ``response.cancel`` with no response in progress.
    RESPONSE_CANCEL_NOT_ACTIVE = "response_cancel_not_active"
    LLM_UNAVAILABLE = "llm_unavailable"
    LLM_UNREACHABLE = "llm_unreachable"
    LLM_TIMEOUT = "llm_timeout"
    LLM_HTTP_ERROR = "llm_http_error"
    LLM_BAD_STREAM = "llm_bad_stream"


#: Codes for the server's own failures (``server_error``); every other code is the client's.
SERVER_ERROR_CODES: Final = frozenset(
    {
        ErrorCode.INTERNAL_ERROR,
        ErrorCode.LLM_UNAVAILABLE,
        ErrorCode.LLM_UNREACHABLE,
        ErrorCode.LLM_TIMEOUT,
        ErrorCode.LLM_HTTP_ERROR,
        ErrorCode.LLM_BAD_STREAM,
    }
)


class CharacterSummary(_ServerModel):
    name: str
    good: bool
    comment: str | None


class DiagnosticReport(_ServerModel):
    """One load problem; ``path`` is relative to the pack, never a server path."""

    path: str
    line: int
    col: int
    code: str
    severity: Literal["error", "warning"]
    message: str


class PackReport(_ServerModel):
    """What loading a pack found: the same fields in ``reloaded`` and in a reload error."""

    pack: str
    version: str
    loaded_count: int
    error_count: int
    total_files: int
    characters: list[CharacterSummary]
    errors: list[DiagnosticReport]


class ErrorDetails(_ServerModel):
    """The OpenAI Realtime error object, plus the peer's ``details`` extension.

    ``event_id`` is the id of the client event that caused the error, when it had one (it
    is read from the raw JSON even when the event did not validate). ``param`` names the
    offending field, when there is one.
    """

    type: Literal["invalid_request_error", "server_error"] = "invalid_request_error"
    code: ErrorCode
    message: str
    param: str | None = None
    event_id: str | None = None
    details: PackReport | None = None


class ErrorEvent(_ServerModel):
    type: Literal["error"] = "error"
    event_id: str = Field(default_factory=new_event_id)
    error: ErrorDetails


class ResolvedSession(_ServerModel):
    """The session's configuration after an update.

    ``instructions`` is the system prompt the conversation will use: the chosen
    character's rendered prompt, else the instructions the client gave, else ``null``.
    """

    voice: str | None
    instructions: str | None
    allow_recording: bool
    pack: str


class SessionUpdated(_ServerModel):
    type: Literal["session.updated"] = "session.updated"
    event_id: str = Field(default_factory=new_event_id)
    session: ResolvedSession


class CharactersReloaded(_ServerModel):
    """The session now uses this pack (the fields of :class:`PackReport`, and the voice).

    ``voice`` is the session's chosen character after the reload. ``replaced_voice`` names
    the character chosen before when the new pack lacks it: the session then falls back to
    the pack's first good character (or its first one), and ``voice`` names that fallback.
    """

    type: Literal["session.characters.reloaded"] = "session.characters.reloaded"
    event_id: str = Field(default_factory=new_event_id)
    pack: str
    version: str
    loaded_count: int
    error_count: int
    total_files: int
    characters: list[CharacterSummary]
    errors: list[DiagnosticReport]
    voice: str | None
    replaced_voice: str | None


class CharactersListed(_ServerModel):
    type: Literal["session.characters.listed"] = "session.characters.listed"
    event_id: str = Field(default_factory=new_event_id)
    pack: str
    version: str
    character_count: int
    characters: list[CharacterSummary]


class ContentPart(_ServerModel):
    """Text in an item: ``input_text`` in a user's message, ``text`` in the assistant's."""

    type: Literal["input_text", "text"]
    text: str


class ConversationItem(_ServerModel):
    """A message in the conversation, as OpenAI's ``realtime.item``."""

    id: str
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["message"] = "message"
    status: Literal["completed", "incomplete", "in_progress"]
    role: Literal["user", "assistant"]
    content: list[ContentPart]


class ConversationItemCreated(_ServerModel):
    """The user's message is in the conversation, after ``previous_item_id`` (or first)."""

    type: Literal["conversation.item.created"] = "conversation.item.created"
    event_id: str = Field(default_factory=new_event_id)
    previous_item_id: str | None
    item: ConversationItem


class ResponseError(_ServerModel):
    """Why a response failed: the same ``code`` as the ``error`` event that follows."""

    type: Literal["server_error"] = "server_error"
    code: ErrorCode
    message: str


class ResponseStatusDetails(_ServerModel):
    """OpenAI's ``status_details``: the reason a response was cancelled, the error it failed on."""

    type: Literal["completed", "cancelled", "failed"]
    reason: Literal["client_cancelled"] | None = None
    error: ResponseError | None = None


ResponseStatus = Literal["in_progress", "completed", "cancelled", "failed"]


class Response(_ServerModel):
    """A response as OpenAI's ``realtime.response``: its id, status and output items."""

    id: str
    object: Literal["realtime.response"] = "realtime.response"
    status: ResponseStatus
    status_details: ResponseStatusDetails | None = None
    output: list[ConversationItem]


class ResponseCreated(_ServerModel):
    """A response has started (status ``in_progress``); text deltas follow."""

    type: Literal["response.created"] = "response.created"
    event_id: str = Field(default_factory=new_event_id)
    response: Response


class ResponseTextDelta(_ServerModel):
    """The next piece of the assistant's text (OpenAI Realtime beta's event of this name)."""

    type: Literal["response.text.delta"] = "response.text.delta"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    delta: str


class ResponseTextDone(_ServerModel):
    """The assistant's whole text for this response (as far as it got, if it was cut short)."""

    type: Literal["response.text.done"] = "response.text.done"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    text: str


class ResponseDone(_ServerModel):
    """The response is over: status ``completed``, ``cancelled`` or ``failed``."""

    type: Literal["response.done"] = "response.done"
    event_id: str = Field(default_factory=new_event_id)
    response: Response


AnyServerEvent = (
    ErrorEvent
    | SessionUpdated
    | CharactersReloaded
    | CharactersListed
    | ConversationItemCreated
    | ResponseCreated
    | ResponseTextDelta
    | ResponseTextDone
    | ResponseDone
)

ServerEvent = Annotated[AnyServerEvent, Field(discriminator="type")]

SERVER_EVENTS: Final[TypeAdapter[AnyServerEvent]] = TypeAdapter(ServerEvent)


def encode(event: AnyServerEvent) -> bytes:
    """The UTF-8 JSON text of a server event, ready for a text frame."""
    return event.__pydantic_serializer__.to_json(event)


def error_event(
    code: ErrorCode,
    message: str,
    *,
    event_id: str | None = None,
    param: str | None = None,
    details: PackReport | None = None,
) -> ErrorEvent:
    """An ``error`` event: a ``server_error`` for :data:`SERVER_ERROR_CODES`, else the client's."""
    kind: Literal["invalid_request_error", "server_error"] = (
        "server_error" if code in SERVER_ERROR_CODES else "invalid_request_error"
    )
    return ErrorEvent(
        error=ErrorDetails(
            type=kind,
            code=code,
            message=message,
            param=param,
            event_id=event_id,
            details=details,
        )
    )


# --------------------------------------------------------------------------- invalid input


class InvalidEvent(Exception):
    """A text frame that is not a valid client event; carries what the error event needs."""

    def __init__(
        self, message: str, *, event_type: str | None, event_id: str | None, param: str | None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.event_type = event_type
        self.event_id = event_id
        self.param = param


def parse_client_event(data: str | bytes) -> AnyClientEvent:
    """Parse one text frame, or raise :class:`InvalidEvent` explaining what is wrong."""
    try:
        return CLIENT_EVENTS.validate_json(data)
    except ValidationError as error:
        raise _invalid(data, error) from None


def _invalid(data: str | bytes, error: ValidationError) -> InvalidEvent:
    """Explain the first problem, and recover ``type`` and ``event_id`` from the raw JSON."""
    raw = _raw_object(data)
    event_type = raw.get("type") if isinstance(raw.get("type"), str) else None
    raw_id = raw.get("event_id")
    event_id = raw_id if isinstance(raw_id, str) and len(raw_id) <= MAX_EVENT_ID_LENGTH else None
    first = error.errors(include_url=False)[0]
    kind = first["type"]
    location = [str(part) for part in first["loc"]]
    if kind == "json_invalid":
        message = f"malformed JSON: {first['msg'].removeprefix('Invalid JSON: ')}"
        return InvalidEvent(message, event_type=None, event_id=None, param=None)
    if kind == "union_tag_not_found":
        return InvalidEvent(
            "the event has no 'type' field", event_type=None, event_id=event_id, param="type"
        )
    if kind == "union_tag_invalid":
        known = ", ".join(CLIENT_EVENT_TYPES)
        shown = _shorten(str(raw.get("type")))
        return InvalidEvent(
            f"unknown event type {shown!r}; known types: {known}",
            event_type=event_type,
            event_id=event_id,
            param="type",
        )
    if not location:
        return InvalidEvent(
            "an event must be a JSON object with a 'type'",
            event_type=None,
            event_id=None,
            param=None,
        )
    # Past the tag, the first location part is the event type itself.
    field = ".".join(location[1:])
    problem = first["msg"].removeprefix("Value error, ")
    if kind == "missing":
        problem = "is required"
    elif field:
        problem = problem[:1].lower() + problem[1:]
    if kind == "literal_error" and isinstance(first.get("input"), str):
        problem = f"{problem}, not {_shorten(first['input'])!r}"
    where = f"field {field!r} " if field else ""
    return InvalidEvent(
        f"{event_type}: {where}{problem}",
        event_type=event_type,
        event_id=event_id,
        param=field or None,
    )


def _raw_object(data: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _shorten(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
