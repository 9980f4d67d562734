"""A session's audio settings as ``session.update`` sets them and ``session.updated`` reports them.

Two shapes name the same settings. The OpenAI Realtime *beta* shape, which this server speaks by
default, has ``input_audio_format`` / ``output_audio_format`` (``"pcm16"``), ``turn_detection``
and ``input_audio_transcription`` at the top of ``session``. The GA shape nests the formats as
``session.audio.input.format`` = ``{"type": "audio/pcm", "rate": 24000}``; it is read here and
mapped onto the same :class:`AudioFormat`, so the rest of the server sees one setting.

kyutai-labs/unmute's frontend sends Ogg Opus without saying so; this server calls that format
``ogg_opus`` (OpenAI has no name for it), and a session that names no input format has it
detected from the first bytes. G.711 (``g711_ulaw``, ``g711_alaw``, GA ``audio/pcmu`` and
``audio/pcma``), rates other than 24 kHz and ``semantic_vad`` are refused with an error that
says so, rather than accepted and then ignored.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from unmute_server.protocol._models import ClientModel

#: The sample rate of every audio format this server speaks (``voice.audio.SAMPLE_RATE``, which
#: a test pins to this value; the protocol does not import the voice path).
AUDIO_RATE: Final = 24_000

#: Error type for a format or rate OpenAI names and this server does not speak; the parser
#: sends it with the code ``unsupported_audio_format`` instead of ``invalid_event``.
UNSUPPORTED_AUDIO_FORMAT_ERROR: Final = "unsupported_audio_format"

_SPOKEN = f"this server speaks pcm16 and ogg_opus, mono at {AUDIO_RATE} Hz"


class AudioFormat(enum.StrEnum):
    """The audio formats a session may send and receive (both mono at :data:`AUDIO_RATE`)."""

    #: 16-bit little-endian PCM, OpenAI's default (``pcm16``; GA ``audio/pcm``).
    PCM16 = "pcm16"
    #: Ogg pages of Opus packets, what kyutai-labs/unmute's frontend sends and plays.
    OGG_OPUS = "ogg_opus"


_G711_BETA: Final = frozenset({"g711_ulaw", "g711_alaw"})
_G711_GA: Final = frozenset({"audio/pcmu", "audio/pcma"})


def _not_g711(value: object) -> object:
    if isinstance(value, str) and value in _G711_BETA:
        raise PydanticCustomError(
            UNSUPPORTED_AUDIO_FORMAT_ERROR,
            "{format} is not supported; {spoken}",
            {"format": value, "spoken": _SPOKEN},
        )
    return value


#: A beta ``input_audio_format`` / ``output_audio_format`` value.
BetaAudioFormat = Annotated[AudioFormat, BeforeValidator(_not_g711)]


class GaAudioFormat(ClientModel):
    """The GA shape of a format: ``{"type": "audio/pcm", "rate": 24000}`` (``rate`` optional)."""

    type: Annotated[str, Field(json_schema_extra={"const": "audio/pcm"})]
    rate: Annotated[int, Field(json_schema_extra={"const": AUDIO_RATE})] = AUDIO_RATE

    @field_validator("type")
    @classmethod
    def _pcm_only(cls, value: str) -> str:
        if value in _G711_GA:
            raise PydanticCustomError(
                UNSUPPORTED_AUDIO_FORMAT_ERROR,
                "{format} is not supported; {spoken}",
                {"format": value, "spoken": _SPOKEN},
            )
        if value != "audio/pcm":
            raise ValueError(f"the GA format type must be 'audio/pcm', not {value[:64]!r}")
        return value

    @field_validator("rate")
    @classmethod
    def _one_rate(cls, value: int) -> int:
        if value != AUDIO_RATE:
            raise PydanticCustomError(
                UNSUPPORTED_AUDIO_FORMAT_ERROR,
                "rate {rate} is not supported; audio is {supported} Hz",
                {"rate": value, "supported": AUDIO_RATE},
            )
        return value


class GaAudioDirection(ClientModel):
    """``session.audio.input`` or ``session.audio.output``: only ``format`` is read."""

    format: GaAudioFormat | None = None


class GaAudioOutput(GaAudioDirection):
    """``session.audio.output``: its ``format``, and ``voice``, GA's place for the character."""

    voice: Annotated[str, Field(max_length=1_024)] | None = None


def ga_format(direction: GaAudioDirection | None) -> AudioFormat | None:
    """The format a GA ``audio.input`` / ``audio.output`` names, if it names one."""
    if direction is None or direction.format is None:
        return None
    return AudioFormat.PCM16  # the one GA format accepted (audio/pcm at 24 kHz)


class _Setting(BaseModel):
    """A settings object the client sends and the server reports back as it is in effect."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, strict=True, json_schema_serialization_defaults_required=True
    )


#: Bounds of the turn-detection durations: generous, but a session cannot ask the server to
#: keep minutes of audio before speech or wait minutes for a turn to end.
MAX_PREFIX_PADDING_MS: Final = 2_000
MAX_SILENCE_DURATION_MS: Final = 10_000


class TurnDetection(_Setting):
    """Server voice-activity detection (``server_vad``), with OpenAI's defaults.

    A turn starts when speech is detected (``threshold``: 0 hears anything as speech, 1 only
    the clearest), with ``prefix_padding_ms`` of audio before it, and ends after
    ``silence_duration_ms`` of silence. ``create_response``: answer when the turn ends;
    ``interrupt_response``: speech during an answer stops it (barge-in). A field left out of
    the object takes its default, as in OpenAI's API.
    """

    type: Literal["server_vad"] = "server_vad"
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    prefix_padding_ms: Annotated[int, Field(ge=0, le=MAX_PREFIX_PADDING_MS)] = 300
    silence_duration_ms: Annotated[int, Field(ge=0, le=MAX_SILENCE_DURATION_MS)] = 500
    create_response: bool = True
    interrupt_response: bool = True

    @field_validator("type", mode="before")
    @classmethod
    def _server_vad_only(cls, value: object) -> object:
        if value == "semantic_vad":
            raise ValueError(
                "semantic_vad is not supported; use server_vad, or null to commit turns "
                "with input_audio_buffer.commit"
            )
        return value


#: What a session starts with: server VAD with OpenAI's defaults.
DEFAULT_TURN_DETECTION: Final = TurnDetection()

_ISO_639_1 = re.compile(r"[a-z]{2}")


class InputAudioTranscription(_Setting):
    """How the person's speech is transcribed: ``language`` (ISO 639-1, e.g. ``en``) and, for an
    OpenAI-compatible engine, ``model`` and a ``prompt`` of expected words."""

    model: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    language: Annotated[str, Field(json_schema_extra={"pattern": "^[a-z]{2}$"})] | None = None
    prompt: Annotated[str, Field(max_length=4_096)] | None = None

    @field_validator("language")
    @classmethod
    def _iso_639_1(cls, value: str | None) -> str | None:
        if value is not None and _ISO_639_1.fullmatch(value) is None:
            raise ValueError(f"language must be an ISO 639-1 code such as 'en', not {value[:16]!r}")
        return value


class GaAudioInput(GaAudioDirection):
    """``session.audio.input``: its ``format``, and GA's place for the turn detection and the
    transcription settings (beta has them at the top of ``session``)."""

    #: ``null`` turns server VAD off; left out keeps it as it is.
    turn_detection: TurnDetection | None = None
    #: ``null`` clears the client's transcription settings; left out keeps them.
    transcription: InputAudioTranscription | None = None


class GaAudioConfig(ClientModel):
    """The GA ``session.audio`` object (noise reduction, speed, etc. are ignored)."""

    input: GaAudioInput | None = None
    output: GaAudioOutput | None = None


@dataclass(frozen=True, slots=True)
class SessionAudio:
    """A session's audio settings in effect.

    ``input_format`` ``None``: detected from the first bytes (``OggS`` is Ogg, else PCM16).
    ``output_format`` ``None``: the same as the input's. ``turn_detection`` ``None``: the
    client commits each turn itself. ``input_audio_transcription`` is the client's own
    choice, ``None`` until it gives one.
    """

    input_format: AudioFormat | None = None
    output_format: AudioFormat | None = None
    turn_detection: TurnDetection | None = DEFAULT_TURN_DETECTION
    input_audio_transcription: InputAudioTranscription | None = None

    def output_for(self, input_format: AudioFormat) -> AudioFormat:
        """The format answers are sent in, once the input's format is known."""
        return self.output_format if self.output_format is not None else input_format
