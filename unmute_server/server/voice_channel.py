"""A session's voice as the client sees it: audio events in, audio and transcript events out.

Where the voice path and the protocol meet, as the conversation channel is for text. The
receive loop hands it ``input_audio_buffer.*`` events; it owns the session's
:class:`~unmute_server.voice.listener.Listener` (made on the first audio event, so a text-only
session pays nothing), turns the listener's and speakers' records into beta events, starts a
spoken response when a turn ends, and stops the answer in progress when the person starts
speaking (barge-in).

Which responses are spoken: every answer to a spoken turn, and a client's ``response.create``
once the session is a voice session (it has sent audio or named an output format). A text-only
session's responses stay text, exactly as before.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from unmute_server.characters.model import Character
from unmute_server.conversation.conversation import DuplicateItemId
from unmute_server.protocol.audio_events import (
    TranscriptionError,
    TranscriptionUsage,
    response_audio_delta,
)
from unmute_server.protocol.events import (
    AnyServerEvent,
    AudioContentPart,
    ConversationItem,
    ConversationItemCreated,
    ErrorCode,
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
    ResponseAudioDone,
    ResponseAudioTranscriptDelta,
    ResponseAudioTranscriptDone,
    SessionAudio,
    error_event,
    warning_event,
)
from unmute_server.protocol.session_audio import AudioFormat as ProtocolAudioFormat
from unmute_server.server import metrics
from unmute_server.server.conversation_channel import ConversationChannel
from unmute_server.server.session import Session
from unmute_server.voice.choice import voice_choice
from unmute_server.voice.codec import AudioFormat
from unmute_server.voice.listener import (
    PCM16_BYTES_PER_SECOND,
    AudioBufferFullError,
    Listener,
    ListenerConfig,
    ListenerHooks,
)
from unmute_server.voice.records import (
    AudioChunk,
    AudioFinished,
    BufferCleared,
    ListenerRecord,
    SpeakerRecord,
    SpokenText,
    TranscriptCompleted,
    TranscriptDelta,
    TranscriptFailed,
    TurnCommitted,
    TurnStarted,
    TurnStopped,
    VoiceProblem,
)
from unmute_server.voice.speaker import Speaker, SpeakerTimings
from unmute_server.voice.stt.engine import SpeechToText
from unmute_server.voice.tts.engine import TextToSpeech
from unmute_server.voice.turns import FRAME_MS, TurnDetection

logger = logging.getLogger(__name__)

Send = Callable[[AnyServerEvent], None]


@dataclass(frozen=True, slots=True)
class VoiceEngines:
    """The process's speech engines, shared by every session."""

    stt: SpeechToText
    tts: TextToSpeech


class VoiceChannel:
    """One session's audio events (see the module docstring)."""

    def __init__(
        self,
        engines: VoiceEngines,
        send: Send,
        conversation: Callable[[], ConversationChannel],
        session: Session,
        *,
        max_buffered_seconds: float,
        default_language: str,
    ) -> None:
        self._engines = engines
        self._send = send
        self._conversation = conversation
        self._session = session
        self._max_buffered_bytes = round(max_buffered_seconds * PCM16_BYTES_PER_SECOND)
        self._default_language = default_language
        self.audio = SessionAudio()
        self._listener: Listener | None = None
        #: Whether answers are spoken: the session sent audio or named an output format.
        self.speaks = False

    # ----------------------------------------------------------------- client events

    async def update(self, audio: SessionAudio) -> None:
        """Apply the session's new audio settings; a listener in use is replaced after the
        turn in progress is transcribed, so no audio already accepted is lost."""
        changed = audio != self.audio
        self.audio = audio
        if audio.output_format is not None:
            self.speaks = True
        listener, self._listener = self._listener, None
        if changed and listener is not None:
            with contextlib.suppress(Exception):
                await listener.commit()
            await listener.wait_idle()
            await listener.aclose()
        elif listener is not None:
            self._listener = listener

    def append(self, event: InputAudioBufferAppend) -> None:
        """Queue the client's audio; an ``error`` if the session's audio buffer is full."""
        self.speaks = True
        listener = self._listener_or_new()
        try:
            listener.append(event.audio)
        except AudioBufferFullError as full:
            metrics.voice_failed("buffer", ErrorCode.AUDIO_BUFFER_FULL.value)
            self._send(
                error_event(
                    ErrorCode.AUDIO_BUFFER_FULL,
                    full.message,
                    event_id=event.event_id,
                    param="audio",
                )
            )

    async def commit(self, event: InputAudioBufferCommit) -> None:
        """End the turn now; an ``error`` when no audio was received since the last one."""
        listener = self._listener_or_new()
        if not await listener.commit():
            self._send(
                error_event(
                    ErrorCode.INPUT_AUDIO_BUFFER_COMMIT_EMPTY,
                    "there is no audio to commit: append audio first",
                    event_id=event.event_id,
                )
            )

    async def clear(self, event: InputAudioBufferClear) -> None:
        """Drop the audio not yet committed; ``input_audio_buffer.cleared`` answers."""
        del event
        await self._listener_or_new().clear()

    async def aclose(self) -> None:
        """The session ended: stop listening (any turn in progress is dropped)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.aclose()

    def speaker_for(self, response_id: str, item_id: str) -> Speaker:
        """The voice of one answer: the session's character, language and output format."""
        character = self._character()
        if character is None:  # a registry always has a character; this keeps mypy honest
            raise RuntimeError("the session's pack has no character to speak with")
        return Speaker(
            self._engines.tts,
            voice=voice_choice(character, self._default_language),
            language=self._language(),
            output_format=self._output_format(),
            response_id=response_id,
            item_id=item_id,
            emit=self._on_speaker_record,
            timings=SpeakerTimings(
                first_audio=metrics.tts_first_audio(self._engines.tts.name),
                finished=metrics.tts_rtf(self._engines.tts.name),
            ),
        )

    # --------------------------------------------------------------------- internals

    def _listener_or_new(self) -> Listener:
        listener = self._listener
        if listener is None:
            listener = Listener(
                self._engines.stt,
                ListenerConfig(
                    language=self._language(),
                    turn_detection=_turn_detection(self.audio),
                    input_format=_codec_format(self.audio.input_format),
                    max_buffered_bytes=self._max_buffered_bytes,
                ),
                ListenerHooks(
                    emit=self._on_listener_record,
                    on_turn=self._on_turn,
                    on_speech=self._on_speech,
                    previous_item=lambda: self._conversation().conversation.last_item_id,
                    new_item_id=lambda: "item_" + uuid.uuid4().hex[:24],
                    on_rtf=metrics.stt_rtf(self._engines.stt.name),
                    on_first_partial=metrics.stt_first_partial(self._engines.stt.name),
                    on_final=metrics.stt_final(self._engines.stt.name),
                ),
            )
            self._listener = listener
        return listener

    def _character(self) -> Character | None:
        session = self._session
        return session.character or session.registry.first_good()

    def _language(self) -> str:
        transcription = self.audio.input_audio_transcription
        if transcription is not None and transcription.language is not None:
            return transcription.language
        character = self._character()
        language = getattr(character.instructions, "language", None) if character else None
        chosen = language or self._default_language
        return str(chosen).split("/", 1)[0]

    def _output_format(self) -> AudioFormat:
        listener = self._listener
        heard = listener.input_format if listener is not None else None
        return _codec_format(self.audio.output_format) or heard or AudioFormat.PCM16

    async def _on_speech(self) -> None:
        detection = self.audio.turn_detection
        if detection is not None and not detection.interrupt_response:
            return
        channel = self._conversation()
        if channel.speaking:
            metrics.barge_in()
            await channel.interrupt()

    async def _on_turn(self, item_id: str, transcript: str) -> None:
        channel = self._conversation()
        try:
            channel.conversation.add_user_text(item_id, transcript)
        except DuplicateItemId:
            return
        detection = self.audio.turn_detection
        if detection is None or not detection.create_response:
            return
        if channel.speaking:
            await channel.interrupt()
        await channel.start(None, speak=self.speaker_for)

    def _on_listener_record(self, record: ListenerRecord) -> None:
        send = self._send
        if isinstance(record, TranscriptDelta):
            send(
                InputAudioTranscriptionDelta(
                    item_id=record.item_id, delta=record.delta, start_time=record.start_time
                )
            )
        elif isinstance(record, TurnStarted):
            send(
                InputAudioBufferSpeechStarted(
                    audio_start_ms=record.audio_start_ms, item_id=record.item_id
                )
            )
        elif isinstance(record, TurnStopped):
            send(
                InputAudioBufferSpeechStopped(
                    audio_end_ms=record.audio_end_ms, item_id=record.item_id
                )
            )
        elif isinstance(record, TurnCommitted):
            send(
                InputAudioBufferCommitted(
                    previous_item_id=record.previous_item_id, item_id=record.item_id
                )
            )
            # As OpenAI does: the turn is the person's item now, its transcript still to come.
            send(
                ConversationItemCreated(
                    previous_item_id=record.previous_item_id,
                    item=ConversationItem(
                        id=record.item_id,
                        status="completed",
                        role="user",
                        content=[AudioContentPart(type="input_audio", transcript=None)],
                    ),
                )
            )
        elif isinstance(record, TranscriptCompleted):
            send(
                InputAudioTranscriptionCompleted(
                    item_id=record.item_id,
                    transcript=record.transcript,
                    usage=TranscriptionUsage(seconds=0.0),
                )
            )
        elif isinstance(record, TranscriptFailed):
            metrics.voice_failed("stt", record.code)
            send(
                InputAudioTranscriptionFailed(
                    item_id=record.item_id,
                    error=TranscriptionError(code=ErrorCode(record.code), message=record.message),
                )
            )
        elif isinstance(record, BufferCleared):
            send(InputAudioBufferCleared())
        else:
            metrics.voice_failed("stt", record.code)
            self._problem(record)

    def _on_speaker_record(self, record: SpeakerRecord) -> None:
        send = self._send
        if isinstance(record, AudioChunk):
            send(response_audio_delta(record.response_id, record.item_id, record.data))
        elif isinstance(record, SpokenText):
            send(
                ResponseAudioTranscriptDelta(
                    response_id=record.response_id, item_id=record.item_id, delta=record.delta
                )
            )
        elif isinstance(record, AudioFinished):
            send(ResponseAudioDone(response_id=record.response_id, item_id=record.item_id))
            send(
                ResponseAudioTranscriptDone(
                    response_id=record.response_id,
                    item_id=record.item_id,
                    transcript=record.transcript,
                )
            )
        else:
            metrics.voice_failed("tts", record.code)
            self._problem(record)

    def _problem(self, record: VoiceProblem) -> None:
        if record.warning:
            self._send(warning_event(ErrorCode(record.code), record.message))
        else:
            self._send(error_event(ErrorCode(record.code), record.message))


def _turn_detection(audio: SessionAudio) -> TurnDetection | None:
    detection = audio.turn_detection
    if detection is None:
        return None
    return TurnDetection(
        threshold=detection.threshold,
        prefix_padding_ms=detection.prefix_padding_ms,
        silence_duration_ms=max(FRAME_MS, detection.silence_duration_ms),
        create_response=detection.create_response,
        interrupt_response=detection.interrupt_response,
    )


def _codec_format(named: ProtocolAudioFormat | None) -> AudioFormat | None:
    """The codec's format for the one the protocol named (the two enums share their values:
    the protocol stays free of the codec's numpy and sphn)."""
    return AudioFormat(named.value) if named is not None else None
