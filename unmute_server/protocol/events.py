"""Every WebSocket event, client and server, as a pydantic model (DESIGN 5).

The shapes follow the OpenAI Realtime API and the peer (kyutai-labs/unmute) that speaks it:
every event has a ``type`` and may carry an ``event_id``; an error is an ``error`` event with
the details nested in ``error`` and the ``event_id`` of the client event that caused it.
Two discriminated unions, :data:`ClientEvent` and :data:`ServerEvent`, are the source of the
committed JSON Schemas. This module knows nothing of files, packs or sockets.

Client events ignore fields they do not know, at the top level and inside ``session``: the
official OpenAI SDK sends many (``modalities``, ``temperature``, ``tools``...) that this server
has no use for, and refusing them would refuse those clients.

The conversation events follow the OpenAI Realtime *beta* API (``response.text.delta``, not
the GA API's ``response.output_text.delta``), text only: ``conversation.item.create`` with a
user text message, ``response.create``, ``response.cancel``; answered by
``conversation.item.created``, ``response.created``, ``response.text.delta``,
``response.text.done`` and ``response.done``. The audio events and the session's audio
settings live in :mod:`.audio_events` and :mod:`.session_audio`; the unions here hold them all.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated, Any, Final, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from unmute_server.characters.model import Instructions
from unmute_server.protocol._models import (
    MAX_EVENT_ID_LENGTH,
    ClientModel,
    EventId,
    ServerModel,
    new_event_id,
)
from unmute_server.protocol.audio_events import (
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
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
from unmute_server.protocol.error_codes import (
    SERVER_ERROR_CODES,
    WARNING_CODES,
    ErrorCode,
    ErrorKind,
    error_kind,
)
from unmute_server.protocol.session_audio import (
    AUDIO_RATE,
    DEFAULT_TURN_DETECTION,
    UNSUPPORTED_AUDIO_FORMAT_ERROR,
    AudioFormat,
    BetaAudioFormat,
    GaAudioConfig,
    InputAudioTranscription,
    SessionAudio,
    TurnDetection,
    ga_format,
)
from unmute_server.protocol.unmute_events import (
    UnmuteAdditionalOutputs,
    UnmuteInterruptedByVad,
    UnmuteResponseTextDeltaReady,
)

__all__ = [
    "CLIENT_EVENTS",
    "CLIENT_EVENT_TYPES",
    "MAX_EVENT_ID_LENGTH",
    "MAX_ITEM_ID_LENGTH",
    "SERVER_ERROR_CODES",
    "SERVER_EVENTS",
    "WARNING_CODES",
    "AnyClientEvent",
    "AnyServerEvent",
    "AudioContentPart",
    "AudioFormat",
    "CharacterSummary",
    "CharactersList",
    "CharactersListed",
    "CharactersReload",
    "CharactersReloaded",
    "ClientEvent",
    "ContentPart",
    "ConversationItem",
    "ConversationItemCreate",
    "ConversationItemCreated",
    "DiagnosticReport",
    "ErrorCode",
    "ErrorDetails",
    "ErrorEvent",
    "EventId",
    "GaSessionAudio",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCleared",
    "InputAudioBufferCommit",
    "InputAudioBufferCommitted",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioTranscription",
    "InputAudioTranscriptionCompleted",
    "InputAudioTranscriptionDelta",
    "InputAudioTranscriptionFailed",
    "InputText",
    "InvalidEvent",
    "ItemId",
    "ItemStatus",
    "PackReport",
    "RealtimeSession",
    "ResolvedSession",
    "Response",
    "ResponseAudioDelta",
    "ResponseAudioDone",
    "ResponseAudioTranscriptDelta",
    "ResponseAudioTranscriptDone",
    "ResponseCancel",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseCreate",
    "ResponseCreated",
    "ResponseDone",
    "ResponseError",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponsePart",
    "ResponseStatus",
    "ResponseStatusDetails",
    "ResponseTextDelta",
    "ResponseTextDone",
    "ServerEvent",
    "SessionAudio",
    "SessionConfigUpdate",
    "SessionCreated",
    "SessionUpdate",
    "SessionUpdated",
    "TurnDetection",
    "UnmuteAdditionalOutputs",
    "UnmuteInterruptedByVad",
    "UnmuteResponseTextDeltaReady",
    "UserMessage",
    "encode",
    "error_event",
    "new_event_id",
    "parse_client_event",
    "realtime_session",
    "warning_event",
]


# --------------------------------------------------------------------------- client events


class SessionConfigUpdate(ClientModel):
    """The part of ``session.update`` this server reads; anything else is ignored.

    ``voice`` names a character in the session's current pack, by its name or by its
    voice's ``path_on_server`` (as kyutai-labs/unmute's frontend sends it); ``instructions``
    is either a system prompt used as given when no character is chosen, or an instructions
    object (``{"type": "smalltalk", "language": "en/fr"}``, ``{"type": "constant", "text":
    ...}``, any type a character file may use) that picks the prompt builder for the session;
    ``allow_recording`` is the peer's consent flag. A field left out keeps its current value.
    """

    #: GA's required ``"realtime"``: a client that sends it speaks GA (see :mod:`.dialect`).
    type: Literal["realtime"] | None = None
    voice: str | None = None
    instructions: str | Instructions | None = None
    allow_recording: bool | None = None
    #: Beta shape. ``null`` (or left out) keeps the format in effect.
    input_audio_format: BetaAudioFormat | None = None
    output_audio_format: BetaAudioFormat | None = None
    #: ``null`` turns server VAD off (the client commits turns); left out keeps it as it is.
    turn_detection: TurnDetection | None = None
    #: ``null`` clears the client's transcription settings; left out keeps them.
    input_audio_transcription: InputAudioTranscription | None = None
    #: GA shape: ``audio.input.format`` and ``audio.output.format``, mapped onto the formats.
    audio: GaAudioConfig | None = None

    @model_validator(mode="after")
    def _one_voice(self) -> SessionConfigUpdate:
        ga_voice = self.ga_voice
        if self.voice is not None and ga_voice is not None and self.voice != ga_voice:
            raise ValueError(
                "'voice' and 'audio.output.voice' name different characters; give one of them"
            )
        return self

    @property
    def ga_voice(self) -> str | None:
        """``audio.output.voice``, where GA puts the voice."""
        output = None if self.audio is None else self.audio.output
        return None if output is None else output.voice

    @property
    def character(self) -> str | None:
        """The character asked for, from ``voice`` or GA's ``audio.output.voice``."""
        return self.voice if self.voice is not None else self.ga_voice

    @model_validator(mode="after")
    def _one_format_each_way(self) -> SessionConfigUpdate:
        ga = self.audio
        for beta, direction, name in (
            (self.input_audio_format, None if ga is None else ga.input, "input"),
            (self.output_audio_format, None if ga is None else ga.output, "output"),
        ):
            named = ga_format(direction)
            if beta is not None and named is not None and beta != named:
                raise ValueError(
                    f"'{name}_audio_format' is {beta.value!r} but 'audio.{name}.format' "
                    f"names {named.value!r}; give one of them"
                )
        return self

    @property
    def input_format(self) -> AudioFormat | None:
        """The input format asked for, in either shape; ``None`` when none was."""
        return self.input_audio_format or ga_format(
            None if self.audio is None else self.audio.input
        )

    @property
    def output_format(self) -> AudioFormat | None:
        """The output format asked for, in either shape; ``None`` when none was."""
        named = ga_format(None if self.audio is None else self.audio.output)
        return self.output_audio_format or named

    def audio_settings(self, current: SessionAudio) -> SessionAudio:
        """``current`` with this update applied: what was given replaces, the rest stays.

        ``turn_detection`` and ``input_audio_transcription`` tell ``null`` (off, cleared) from
        left out (kept); a format has no "off", so ``null`` keeps it like leaving it out.
        """
        changed = current
        given = self.model_fields_set
        if self.input_format is not None:
            changed = replace(changed, input_format=self.input_format)
        if self.output_format is not None:
            changed = replace(changed, output_format=self.output_format)
        if "turn_detection" in given:
            changed = replace(changed, turn_detection=self.turn_detection)
        if "input_audio_transcription" in given:
            changed = replace(changed, input_audio_transcription=self.input_audio_transcription)
        ga_input = None if self.audio is None else self.audio.input
        if ga_input is not None:  # GA's places for the same two settings
            if "turn_detection" in ga_input.model_fields_set:
                changed = replace(changed, turn_detection=ga_input.turn_detection)
            if "transcription" in ga_input.model_fields_set:
                changed = replace(changed, input_audio_transcription=ga_input.transcription)
        return changed


class SessionUpdate(ClientModel):
    """Choose a character (``session.voice``), set instructions, or set the audio settings."""

    type: Literal["session.update"]
    event_id: EventId | None = None
    session: SessionConfigUpdate


class CharactersReload(ClientModel):
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


class CharactersList(ClientModel):
    """List the characters of the session's current pack."""

    type: Literal["session.characters.list"]
    event_id: EventId | None = None


#: Longest item id a client may give (OpenAI's own ids are 32 characters or fewer).
MAX_ITEM_ID_LENGTH: Final = 64

ItemId = Annotated[str, Field(min_length=1, max_length=MAX_ITEM_ID_LENGTH)]


class InputText(ClientModel):
    """One text part of a user message."""

    type: Literal["input_text"]
    text: str


class UserMessage(ClientModel):
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


class ConversationItemCreate(ClientModel):
    """Add a user message to the session's conversation (``previous_item_id`` is ignored:
    items are always appended)."""

    type: Literal["conversation.item.create"]
    event_id: EventId | None = None
    previous_item_id: str | None = None
    item: UserMessage


class ResponseCreate(ClientModel):
    """Ask the character to answer the conversation as it stands.

    The optional ``response`` object the OpenAI SDK may send (modalities, instructions,
    voice...) is ignored: the session's character decides how to answer.
    """

    type: Literal["response.create"]
    event_id: EventId | None = None


class ResponseCancel(ClientModel):
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
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
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
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
)


# --------------------------------------------------------------------------- server events


class CharacterSummary(ServerModel):
    name: str
    good: bool
    comment: str | None


class DiagnosticReport(ServerModel):
    """One load problem; ``path`` is relative to the pack, never a server path."""

    path: str
    line: int
    col: int
    code: str
    severity: Literal["error", "warning"]
    message: str


class PackReport(ServerModel):
    """What loading a pack found: the same fields in ``reloaded`` and in a reload error."""

    pack: str
    version: str
    loaded_count: int
    error_count: int
    total_files: int
    characters: list[CharacterSummary]
    errors: list[DiagnosticReport]


class ErrorDetails(ServerModel):
    """The OpenAI Realtime error object, plus the peer's ``details`` extension.

    ``type`` is ``warning`` for a problem that failed nothing (kyutai-labs/unmute's frontend
    logs those and shows the others), ``server_error`` for the server's own failures, else
    ``invalid_request_error``.

    ``event_id`` is the id of the client event that caused the error, when it had one (it
    is read from the raw JSON even when the event did not validate). ``param`` names the
    offending field, when there is one.
    """

    type: ErrorKind = "invalid_request_error"
    code: ErrorCode
    message: str
    param: str | None = None
    event_id: str | None = None
    details: PackReport | None = None


class ErrorEvent(ServerModel):
    type: Literal["error"] = "error"
    event_id: str = Field(default_factory=new_event_id)
    error: ErrorDetails


class ResolvedSession(ServerModel):
    """The session's configuration after an update.

    ``instructions`` is the system prompt the conversation will use: the chosen
    character's rendered prompt, else the instructions the client gave, else ``null``.
    The audio settings are those of :class:`SessionAudio`: an ``input_audio_format`` of
    ``null`` is detected from the first bytes, an ``output_audio_format`` of ``null`` follows
    the input's, a ``turn_detection`` of ``null`` leaves turns to the client.
    """

    voice: str | None
    instructions: str | None
    allow_recording: bool
    pack: str
    input_audio_format: AudioFormat | None = None
    output_audio_format: AudioFormat | None = None
    turn_detection: TurnDetection | None = DEFAULT_TURN_DETECTION
    input_audio_transcription: InputAudioTranscription | None = None


class GaAudioFormatShown(ServerModel):
    """A format in the GA shape; only PCM16 has one (Ogg Opus is shown as ``null``)."""

    type: Literal["audio/pcm"] = "audio/pcm"
    rate: Literal[24000] = AUDIO_RATE


class GaSessionInput(ServerModel):
    """``session.audio.input`` in the GA shape: the input settings of :class:`ResolvedSession`."""

    format: GaAudioFormatShown | None
    turn_detection: TurnDetection | None
    transcription: InputAudioTranscription | None


class GaSessionOutput(ServerModel):
    """``session.audio.output`` in the GA shape: the output format and the character (voice)."""

    format: GaAudioFormatShown | None
    voice: str | None


class GaSessionAudio(ServerModel):
    input: GaSessionInput
    output: GaSessionOutput


class RealtimeSession(ResolvedSession):
    """:class:`ResolvedSession` in both dialects' shapes at once.

    The beta fields at the top, and the GA ones beside them (``type``, ``audio.input``,
    ``audio.output.voice``); each SDK reads its own and allows the others, so the one
    ``session.created`` sent on connect, before a client has shown its dialect, is valid in
    both. Build one with :func:`realtime_session`.
    """

    type: Literal["realtime"] = "realtime"
    object: Literal["realtime.session"] = "realtime.session"
    audio: GaSessionAudio


def _shown(audio_format: AudioFormat | None) -> GaAudioFormatShown | None:
    return GaAudioFormatShown() if audio_format is AudioFormat.PCM16 else None


def realtime_session(session: ResolvedSession) -> RealtimeSession:
    """``session`` with its GA view added (see :class:`RealtimeSession`)."""
    return RealtimeSession(
        **dict(session),
        audio=GaSessionAudio(
            input=GaSessionInput(
                format=_shown(session.input_audio_format),
                turn_detection=session.turn_detection,
                transcription=session.input_audio_transcription,
            ),
            output=GaSessionOutput(format=_shown(session.output_audio_format), voice=session.voice),
        ),
    )


class SessionCreated(ServerModel):
    """Sent once on connect: the session as it starts, in both dialects' shapes."""

    type: Literal["session.created"] = "session.created"
    event_id: str = Field(default_factory=new_event_id)
    session: RealtimeSession


class SessionUpdated(ServerModel):
    type: Literal["session.updated"] = "session.updated"
    event_id: str = Field(default_factory=new_event_id)
    session: ResolvedSession


class CharactersReloaded(ServerModel):
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


class CharactersListed(ServerModel):
    type: Literal["session.characters.listed"] = "session.characters.listed"
    event_id: str = Field(default_factory=new_event_id)
    pack: str
    version: str
    character_count: int
    characters: list[CharacterSummary]


class ContentPart(ServerModel):
    """Text in an item: ``input_text`` in a user's message, ``text`` in the assistant's."""

    type: Literal["input_text", "text"]
    text: str


class AudioContentPart(ServerModel):
    """Speech in an item: ``input_audio`` in a user's spoken turn, ``audio`` in a spoken answer.

    ``transcript`` is its text (``null`` until the person's speech is transcribed); the audio
    itself travels in ``response.audio.delta`` events, never again inside an item.
    """

    type: Literal["input_audio", "audio"]
    transcript: str | None


ItemStatus = Literal["completed", "incomplete", "in_progress"]


class ConversationItem(ServerModel):
    """A message in the conversation, as OpenAI's ``realtime.item``."""

    id: str
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["message"] = "message"
    status: ItemStatus
    role: Literal["user", "assistant"]
    content: list[ContentPart | AudioContentPart]


class ConversationItemCreated(ServerModel):
    """The user's message is in the conversation, after ``previous_item_id`` (or first)."""

    type: Literal["conversation.item.created"] = "conversation.item.created"
    event_id: str = Field(default_factory=new_event_id)
    previous_item_id: str | None
    item: ConversationItem


class ResponseOutputItemAdded(ServerModel):
    """The assistant's item of response ``response_id`` exists (``in_progress``, no content)."""

    type: Literal["response.output_item.added"] = "response.output_item.added"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    output_index: int = 0
    item: ConversationItem


class ResponseOutputItemDone(ServerModel):
    """The assistant's item is final: its whole content, and ``incomplete`` when cut short."""

    type: Literal["response.output_item.done"] = "response.output_item.done"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    output_index: int = 0
    item: ConversationItem


class ResponsePart(ServerModel):
    """A content part as ``response.content_part.*`` carry it (beta and GA alike)."""

    type: Literal["text", "audio"]
    text: str | None = None
    transcript: str | None = None


class ResponseContentPartAdded(ServerModel):
    """The assistant's item gains a part (``text``, or ``audio`` when the answer is spoken)."""

    type: Literal["response.content_part.added"] = "response.content_part.added"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    part: ResponsePart


class ResponseContentPartDone(ServerModel):
    """The part is final: its whole text or transcript."""

    type: Literal["response.content_part.done"] = "response.content_part.done"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    part: ResponsePart


class ResponseError(ServerModel):
    """Why a response failed: the same ``code`` as the ``error`` event that follows."""

    type: Literal["server_error"] = "server_error"
    code: ErrorCode
    message: str


class ResponseStatusDetails(ServerModel):
    """OpenAI's ``status_details``: the reason a response was cancelled, the error it failed on."""

    type: Literal["completed", "cancelled", "failed"]
    reason: Literal["client_cancelled"] | None = None
    error: ResponseError | None = None


ResponseStatus = Literal["in_progress", "completed", "cancelled", "failed"]


class Response(ServerModel):
    """A response as OpenAI's ``realtime.response``: its id, status and output items."""

    id: str
    object: Literal["realtime.response"] = "realtime.response"
    status: ResponseStatus
    status_details: ResponseStatusDetails | None = None
    output: list[ConversationItem]


class ResponseCreated(ServerModel):
    """A response has started (status ``in_progress``); text deltas follow."""

    type: Literal["response.created"] = "response.created"
    event_id: str = Field(default_factory=new_event_id)
    response: Response


class ResponseTextDelta(ServerModel):
    """The next piece of the assistant's text (OpenAI Realtime beta's event of this name)."""

    type: Literal["response.text.delta"] = "response.text.delta"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    delta: str


class ResponseTextDone(ServerModel):
    """The assistant's whole text for this response (as far as it got, if it was cut short)."""

    type: Literal["response.text.done"] = "response.text.done"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    text: str


class ResponseDone(ServerModel):
    """The response is over: status ``completed``, ``cancelled`` or ``failed``."""

    type: Literal["response.done"] = "response.done"
    event_id: str = Field(default_factory=new_event_id)
    response: Response


AnyServerEvent = (
    ErrorEvent
    | SessionCreated
    | SessionUpdated
    | CharactersReloaded
    | CharactersListed
    | ConversationItemCreated
    | ResponseOutputItemAdded
    | ResponseOutputItemDone
    | ResponseContentPartAdded
    | ResponseContentPartDone
    | ResponseCreated
    | ResponseTextDelta
    | ResponseTextDone
    | ResponseDone
    | InputAudioBufferSpeechStarted
    | InputAudioBufferSpeechStopped
    | InputAudioBufferCommitted
    | InputAudioBufferCleared
    | InputAudioTranscriptionDelta
    | InputAudioTranscriptionCompleted
    | InputAudioTranscriptionFailed
    | ResponseAudioDelta
    | ResponseAudioDone
    | ResponseAudioTranscriptDelta
    | ResponseAudioTranscriptDone
    # Only to kyutai-labs/unmute's frontend (see .unmute_flavour).
    | UnmuteAdditionalOutputs
    | UnmuteResponseTextDeltaReady
    | UnmuteInterruptedByVad
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
    """An ``error`` event whose ``error.type`` follows from ``code`` (:func:`error_kind`)."""
    return ErrorEvent(
        error=ErrorDetails(
            type=error_kind(code),
            code=code,
            message=message,
            param=param,
            event_id=event_id,
            details=details,
        )
    )


def warning_event(code: ErrorCode, message: str) -> ErrorEvent:
    """An ``error`` event of type ``warning``: something the client should know, nothing failed.

    Raises ``ValueError`` for a code that is not one of :data:`WARNING_CODES`, so a failure is
    never sent as a warning that the peer's frontend would not show.
    """
    if code not in WARNING_CODES:
        raise ValueError(f"{code.value} is not a warning code")
    return error_event(code, message)


# --------------------------------------------------------------------------- invalid input


class InvalidEvent(Exception):
    """A text frame that is not a valid client event; carries what the error event needs.

    ``code`` is ``invalid_event``, or ``unsupported_audio_format`` for a format or rate that
    OpenAI names and this server does not speak (so the client learns it is not a typo).
    """

    def __init__(
        self,
        message: str,
        *,
        event_type: str | None,
        event_id: str | None,
        param: str | None,
        code: ErrorCode = ErrorCode.INVALID_EVENT,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.event_type = event_type
        self.event_id = event_id
        self.param = param
        self.code = code


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
    if kind in {"literal_error", "enum"} and isinstance(first.get("input"), str):
        problem = f"{problem}, not {_shorten(first['input'])!r}"
    where = f"field {field!r} " if field else ""
    code = (
        ErrorCode.UNSUPPORTED_AUDIO_FORMAT
        if kind == UNSUPPORTED_AUDIO_FORMAT_ERROR
        else ErrorCode.INVALID_EVENT
    )
    return InvalidEvent(
        f"{event_type}: {where}{problem}",
        event_type=event_type,
        event_id=event_id,
        param=field or None,
        code=code,
    )


def _raw_object(data: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _shorten(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
