"""``session.update``'s audio settings, in the beta and GA shapes, and how they apply."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.beta.realtime import SessionUpdatedEvent

from tests.server.conftest import CLIENT_SCHEMA, SERVER_SCHEMA
from unmute_server.protocol.events import (
    ErrorCode,
    InvalidEvent,
    ResolvedSession,
    SessionConfigUpdate,
    SessionUpdate,
    SessionUpdated,
    encode,
    parse_client_event,
)
from unmute_server.protocol.session_audio import (
    AUDIO_RATE,
    DEFAULT_TURN_DETECTION,
    AudioFormat,
    InputAudioTranscription,
    SessionAudio,
    TurnDetection,
)
from unmute_server.voice.audio import SAMPLE_RATE


def update(session: dict[str, Any]) -> SessionConfigUpdate:
    event = parse_client_event(json.dumps({"type": "session.update", "session": session}))
    assert isinstance(event, SessionUpdate)
    return event.session


def refused(session: dict[str, Any]) -> InvalidEvent:
    frame = json.dumps({"type": "session.update", "event_id": "u1", "session": session})
    with pytest.raises(InvalidEvent) as raised:
        parse_client_event(frame)
    assert raised.value.event_id == "u1"
    return raised.value


def test_the_audio_rate_is_the_voice_paths() -> None:
    assert AUDIO_RATE == SAMPLE_RATE


def test_a_session_starts_detecting_the_format_with_server_vad() -> None:
    audio = SessionAudio()
    assert (audio.input_format, audio.output_format) == (None, None)
    assert audio.turn_detection == TurnDetection()
    assert audio.input_audio_transcription is None
    assert audio.output_for(AudioFormat.OGG_OPUS) is AudioFormat.OGG_OPUS


@pytest.mark.parametrize("name", ["pcm16", "ogg_opus"])
def test_beta_formats_are_read(name: str) -> None:
    config = update({"input_audio_format": name, "output_audio_format": "pcm16"})
    assert config.input_format is AudioFormat(name)
    assert config.output_format is AudioFormat.PCM16
    audio = config.audio_settings(SessionAudio())
    assert (audio.input_format, audio.output_format) == (AudioFormat(name), AudioFormat.PCM16)
    assert audio.output_for(AudioFormat.OGG_OPUS) is AudioFormat.PCM16


def test_the_ga_format_maps_onto_the_same_setting() -> None:
    pcm = {"type": "audio/pcm", "rate": 24000}
    config = update(
        {"type": "realtime", "audio": {"input": {"format": pcm}, "output": {"format": pcm}}}
    )
    assert (config.input_format, config.output_format) == (AudioFormat.PCM16, AudioFormat.PCM16)
    without_rate = update({"audio": {"input": {"format": {"type": "audio/pcm"}}}})
    assert without_rate.input_format is AudioFormat.PCM16
    assert without_rate.output_format is None


def test_the_same_format_in_both_shapes_is_fine_and_different_ones_are_not() -> None:
    pcm = {"type": "audio/pcm", "rate": 24000}
    same = update({"input_audio_format": "pcm16", "audio": {"input": {"format": pcm}}})
    assert same.input_format is AudioFormat.PCM16
    invalid = refused({"input_audio_format": "ogg_opus", "audio": {"input": {"format": pcm}}})
    assert invalid.param == "session"
    assert "'input_audio_format' is 'ogg_opus' but 'audio.input.format' names 'pcm16'" in (
        invalid.message
    )


@pytest.mark.parametrize(
    ("session", "param"),
    [
        ({"input_audio_format": "g711_ulaw"}, "session.input_audio_format"),
        ({"output_audio_format": "g711_alaw"}, "session.output_audio_format"),
        (
            {"audio": {"input": {"format": {"type": "audio/pcmu"}}}},
            "session.audio.input.format.type",
        ),
        (
            {"audio": {"output": {"format": {"type": "audio/pcma"}}}},
            "session.audio.output.format.type",
        ),
        (
            {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
            "session.audio.input.format.rate",
        ),
    ],
)
def test_formats_openai_names_and_this_server_does_not_speak_say_so(
    session: dict[str, Any], param: str
) -> None:
    invalid = refused(session)
    assert invalid.code is ErrorCode.UNSUPPORTED_AUDIO_FORMAT
    assert invalid.param == param
    assert "is not supported" in invalid.message
    assert not CLIENT_SCHEMA.is_valid({"type": "session.update", "session": session})


TD = "turn_detection"
TR = "input_audio_transcription"
GA_INPUT = "audio.input.format"


@pytest.mark.parametrize(
    ("key", "value", "param", "fragment"),
    [
        ("input_audio_format", "mp3", "", "'pcm16' or 'ogg_opus', not 'mp3'"),
        ("input_audio_format", 16, "", "'pcm16' or 'ogg_opus'"),
        (GA_INPUT, {"type": "audio/wav"}, "type", "audio/pcm"),
        (GA_INPUT, {"rate": 24000}, "type", "required"),
        (TD, {"type": "semantic_vad"}, "type", "semantic_vad is not supported"),
        (TD, {"type": "vad"}, "type", "'server_vad', not 'vad'"),
        (TD, {"threshold": 1.5}, "threshold", "less than or equal to 1"),
        (TD, {"threshold": "high"}, "threshold", "valid number"),
        (TD, {"silence_duration_ms": -1}, "silence_duration_ms", "greater than or equal to 0"),
        (TD, {"silence_duration_ms": 60000}, "silence_duration_ms", "10000"),
        (TD, {"prefix_padding_ms": 2.5}, "prefix_padding_ms", "valid integer"),
        (TD, {"create_response": "yes"}, "create_response", "valid boolean"),
        (TD, "server_vad", "", "object"),
        (TR, {"language": "english"}, "language", "ISO 639-1"),
        (TR, {"model": ""}, "model", "at least 1"),
    ],
)
def test_bad_audio_settings_are_invalid_events_naming_the_field(
    key: str, value: object, param: str, fragment: str
) -> None:
    session: dict[str, Any] = {}
    inner = session
    *parents, last = key.split(".")
    for parent in parents:
        inner = inner.setdefault(parent, {})
    inner[last] = value
    expected = ".".join(part for part in ("session", key, param) if part)
    invalid = refused(session)
    assert invalid.code is ErrorCode.INVALID_EVENT
    assert invalid.param == expected
    assert fragment in invalid.message
    assert invalid.message.startswith(f"session.update: field {expected!r} ")


def test_a_turn_detection_object_takes_openais_defaults_for_what_it_leaves_out() -> None:
    config = update({"turn_detection": {"type": "server_vad", "silence_duration_ms": 800}})
    assert config.turn_detection == TurnDetection(silence_duration_ms=800)
    assert config.turn_detection is not None
    assert (config.turn_detection.threshold, config.turn_detection.prefix_padding_ms) == (0.5, 300)
    assert update({"turn_detection": {}}).turn_detection == DEFAULT_TURN_DETECTION
    # The SDK's own fields for other modes are ignored, like any unknown field.
    assert update({"turn_detection": {"eagerness": "low", "threshold": 1}}).turn_detection == (
        TurnDetection(threshold=1.0)
    )


def test_null_turn_detection_turns_vad_off_and_leaving_it_out_keeps_it() -> None:
    custom = SessionAudio(turn_detection=TurnDetection(threshold=0.8))
    assert update({"turn_detection": None}).audio_settings(custom).turn_detection is None
    assert update({"voice": "Nova"}).audio_settings(custom) == custom
    off = SessionAudio(turn_detection=None)
    back_on = update({"turn_detection": {"type": "server_vad"}}).audio_settings(off)
    assert back_on.turn_detection == DEFAULT_TURN_DETECTION


def test_transcription_settings_are_set_cleared_and_kept() -> None:
    given = update({"input_audio_transcription": {"model": "whisper-1", "language": "fr"}})
    audio = given.audio_settings(SessionAudio())
    assert audio.input_audio_transcription == InputAudioTranscription(
        model="whisper-1", language="fr"
    )
    assert update({}).audio_settings(audio) == audio
    cleared = update({"input_audio_transcription": None}).audio_settings(audio)
    assert cleared.input_audio_transcription is None


def test_a_null_format_keeps_the_format_in_effect() -> None:
    audio = SessionAudio(input_format=AudioFormat.PCM16)
    assert update({"input_audio_format": None}).audio_settings(audio) == audio


def test_what_the_session_already_accepted_still_parses() -> None:
    config = update(
        {
            "voice": "Alice",
            "instructions": "Be brief.",
            "allow_recording": True,
            "modalities": ["audio", "text"],
            "tools": [],
            "temperature": 0.8,
            "future_field": {"x": 1},
        }
    )
    assert (config.voice, config.instructions, config.allow_recording) == (
        "Alice",
        "Be brief.",
        True,
    )
    assert config.audio_settings(SessionAudio()) == SessionAudio()


def test_session_updated_reports_the_settings_as_the_sdk_reads_them() -> None:
    audio = update(
        {
            "input_audio_format": "pcm16",
            "turn_detection": {"silence_duration_ms": 700},
            "input_audio_transcription": {"language": "en"},
        }
    ).audio_settings(SessionAudio())
    event = SessionUpdated(
        session=ResolvedSession(
            voice="Nova",
            instructions="You are Nova.",
            allow_recording=False,
            pack="default",
            input_audio_format=audio.input_format,
            output_audio_format=audio.output_format,
            turn_detection=audio.turn_detection,
            input_audio_transcription=audio.input_audio_transcription,
        )
    )
    frame = encode(event)
    payload = json.loads(frame)
    SERVER_SCHEMA.validate(payload)
    assert payload["session"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 700,
        "create_response": True,
        "interrupt_response": True,
    }
    assert payload["session"]["input_audio_transcription"] == {
        "model": None,
        "language": "en",
        "prompt": None,
    }
    read = SessionUpdatedEvent.model_validate_json(frame)
    assert read.session.input_audio_format == "pcm16"
    assert read.session.turn_detection is not None
    assert read.session.turn_detection.silence_duration_ms == 700


def test_ga_turn_detection_and_transcription_are_read_where_ga_puts_them() -> None:
    event = parse_client_event(
        '{"type": "session.update", "session": {"type": "realtime", "audio": {"input": '
        '{"turn_detection": null, "transcription": {"language": "fr"}}}}}'
    )
    assert isinstance(event, SessionUpdate)
    audio = event.session.audio_settings(SessionAudio())
    assert audio.turn_detection is None
    assert audio.input_audio_transcription is not None
    assert audio.input_audio_transcription.language == "fr"
    kept = parse_client_event('{"type": "session.update", "session": {"audio": {"input": {}}}}')
    assert isinstance(kept, SessionUpdate)
    assert kept.session.audio_settings(SessionAudio()) == SessionAudio()
