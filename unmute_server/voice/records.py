"""What the voice path reports, as plain records; the server's dialect layer names them.

Like :mod:`unmute_server.conversation.conversation`'s records, these know nothing of events or
sockets: :class:`~unmute_server.voice.listener.Listener` reports the input side (turns and
transcripts), :class:`~unmute_server.voice.speaker.Speaker` the output side (audio and the text
it speaks).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TurnStarted:
    """The person started speaking; ``item_id`` is the user item the turn will become."""

    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class TurnStopped:
    """The person stopped speaking."""

    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class TurnCommitted:
    """The turn's audio is complete (end of speech, or the client's commit)."""

    item_id: str
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    """New words of the turn's transcript, appended to what came before."""

    item_id: str
    delta: str
    #: Seconds from the turn's start to the end of the audio heard so far (unmute's
    #: ``start_time``), for a client that places words on a timeline.
    start_time: float


@dataclass(frozen=True, slots=True)
class TranscriptCompleted:
    """The turn's final transcript (it becomes the user item)."""

    item_id: str
    transcript: str


@dataclass(frozen=True, slots=True)
class TranscriptFailed:
    """The turn could not be transcribed; ``code`` is a protocol error code."""

    item_id: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class BufferCleared:
    """The client's uncommitted audio was dropped (``input_audio_buffer.clear``)."""


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Encoded audio of an answer, in the session's output format, in order."""

    response_id: str
    item_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SpokenText:
    """Text whose audio has started to go out: the answer's spoken transcript, in order."""

    response_id: str
    item_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class AudioFinished:
    """The answer's audio is complete (or was stopped); ``transcript`` is what was spoken."""

    response_id: str
    item_id: str
    transcript: str


@dataclass(frozen=True, slots=True)
class VoiceProblem:
    """Something the client should know; ``warning`` ones leave the session as it was."""

    code: str
    message: str
    warning: bool = False


ListenerRecord = (
    TurnStarted
    | TurnStopped
    | TurnCommitted
    | TranscriptDelta
    | TranscriptCompleted
    | TranscriptFailed
    | BufferCleared
    | VoiceProblem
)
SpeakerRecord = AudioChunk | SpokenText | AudioFinished | VoiceProblem
VoiceRecord = ListenerRecord | SpeakerRecord
