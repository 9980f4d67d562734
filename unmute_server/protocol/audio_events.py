"""The audio events, client and server, in the OpenAI Realtime *beta* shapes.

The client appends audio (``input_audio_buffer.append``, base64), and may commit or clear the
buffer itself; the server reports turn-taking (``speech_started``, ``speech_stopped``,
``committed``, ``cleared``), the person's transcript (``input_audio_transcription.delta`` /
``completed`` / ``failed``) and the answer's audio and its text (``response.audio.delta`` /
``done``, ``response.audio_transcript.delta`` / ``done``). Every server event here validates
against the official ``openai`` SDK's beta models (a test checks each one).

Timestamps (``audio_start_ms``, ``audio_end_ms``) count milliseconds of audio the session has
sent since it started, as OpenAI's do; ``start_time`` on a transcription delta is the same in
seconds, kyutai-labs/unmute's extension.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from unmute_server.protocol._models import ClientModel, EventId, ServerModel, new_event_id
from unmute_server.protocol.error_codes import ErrorCode

# --------------------------------------------------------------------------- client events


def _decode_base64(value: object) -> bytes:
    """Strict base64: the standard alphabet with its padding, nothing else (no whitespace, no
    URL-safe letters, no data after the padding). Decoding is done once, here."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    if not value:
        raise PydanticCustomError("base64", "is empty; send base64-encoded audio bytes")
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError) as error:
        raise PydanticCustomError(
            "base64", "is not valid base64: {reason}", {"reason": str(error)[:100]}
        ) from None


def _encode_base64(audio: bytes) -> str:
    return base64.b64encode(audio).decode("ascii")


#: Audio as base64 text on the wire, as the decoded bytes in the model.
Base64Audio = Annotated[
    bytes,
    PlainValidator(_decode_base64),
    PlainSerializer(_encode_base64, return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64", "minLength": 1}),
]


class InputAudioBufferAppend(ClientModel):
    """Audio from the person, in the session's input format (Ogg Opus pages or PCM16 at 24 kHz).

    ``audio`` is base64 on the wire and holds the decoded bytes here (decoded once, strictly:
    a message that is not base64 is refused before it reaches the voice path). A message
    longer than ``--max-message-bytes`` closes the socket before it is parsed.
    """

    type: Literal["input_audio_buffer.append"]
    event_id: EventId | None = None
    audio: Base64Audio


class InputAudioBufferCommit(ClientModel):
    """End the person's turn now: the buffered audio becomes a user item (needed when
    ``turn_detection`` is ``null``; with server VAD the server commits by itself)."""

    type: Literal["input_audio_buffer.commit"]
    event_id: EventId | None = None


class InputAudioBufferClear(ClientModel):
    """Drop the audio buffered since the last commit."""

    type: Literal["input_audio_buffer.clear"]
    event_id: EventId | None = None


# --------------------------------------------------------------------------- server events


class InputAudioBufferSpeechStarted(ServerModel):
    """Speech was detected: ``item_id`` is the user item the turn will become."""

    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    event_id: str = Field(default_factory=new_event_id)
    audio_start_ms: int
    item_id: str


class InputAudioBufferSpeechStopped(ServerModel):
    """The speech of item ``item_id`` ended (after the VAD's silence window)."""

    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    event_id: str = Field(default_factory=new_event_id)
    audio_end_ms: int
    item_id: str


class InputAudioBufferCommitted(ServerModel):
    """The buffered audio is now user item ``item_id``, after ``previous_item_id``."""

    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    event_id: str = Field(default_factory=new_event_id)
    previous_item_id: str | None
    item_id: str


class InputAudioBufferCleared(ServerModel):
    """The buffered audio was dropped, as ``input_audio_buffer.clear`` asked."""

    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"
    event_id: str = Field(default_factory=new_event_id)


class InputAudioTranscriptionDelta(ServerModel):
    """The next words of the person's transcript, while they speak.

    ``start_time`` is kyutai-labs/unmute's extension: when the words began, in seconds of the
    session's audio.
    """

    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    event_id: str = Field(default_factory=new_event_id)
    item_id: str
    content_index: int = 0
    delta: str
    start_time: float


class TranscriptionUsage(ServerModel):
    """OpenAI's duration-based usage: how many seconds of audio were transcribed."""

    type: Literal["duration"] = "duration"
    seconds: float


class InputAudioTranscriptionCompleted(ServerModel):
    """The person's whole transcript for item ``item_id``: what the character hears."""

    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    event_id: str = Field(default_factory=new_event_id)
    item_id: str
    content_index: int = 0
    transcript: str
    usage: TranscriptionUsage


class TranscriptionError(ServerModel):
    """Why a transcription failed: an engine's code (``voice_engine_timeout``...)."""

    type: Literal["transcription_error"] = "transcription_error"
    code: ErrorCode
    message: str
    param: str | None = None


class InputAudioTranscriptionFailed(ServerModel):
    """Item ``item_id`` could not be transcribed; the session carries on."""

    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    event_id: str = Field(default_factory=new_event_id)
    item_id: str
    content_index: int = 0
    error: TranscriptionError


class ResponseAudioDelta(ServerModel):
    """The next piece of the answer's audio, base64, in the session's output format.

    Build one with :func:`response_audio_delta` from the encoded bytes.
    """

    type: Literal["response.audio.delta"] = "response.audio.delta"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    delta: str


def response_audio_delta(response_id: str, item_id: str, audio: bytes) -> ResponseAudioDelta:
    """A ``response.audio.delta`` carrying ``audio`` (already in the session's format)."""
    return ResponseAudioDelta(response_id=response_id, item_id=item_id, delta=_encode_base64(audio))


class ResponseAudioDone(ServerModel):
    """The answer's audio is over (complete, or cut short by a barge-in or a failure)."""

    type: Literal["response.audio.done"] = "response.audio.done"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0


class ResponseAudioTranscriptDelta(ServerModel):
    """The text of the audio being sent: the next piece of what the character says."""

    type: Literal["response.audio_transcript.delta"] = "response.audio_transcript.delta"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    delta: str


class ResponseAudioTranscriptDone(ServerModel):
    """The whole text of the answer's audio (as far as it was spoken when cut short)."""

    type: Literal["response.audio_transcript.done"] = "response.audio_transcript.done"
    event_id: str = Field(default_factory=new_event_id)
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    transcript: str
