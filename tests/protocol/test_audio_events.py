"""The audio events: strict base64 in, and every server event as the official SDK reads it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from openai.types.beta.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from tests.server.conftest import CLIENT_SCHEMA, SERVER_SCHEMA
from unmute_server.protocol.audio_events import (
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    ResponseAudioDone,
    ResponseAudioTranscriptDelta,
    ResponseAudioTranscriptDone,
    TranscriptionError,
    TranscriptionUsage,
    response_audio_delta,
)
from unmute_server.protocol.events import (
    SERVER_EVENTS,
    AnyServerEvent,
    ErrorCode,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    InvalidEvent,
    encode,
    parse_client_event,
)

SDK_SERVER_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)

OGG_START = b"OggS\x00\x02" + bytes(range(40))


def append(audio: object, event_id: str = "a1") -> str:
    return json.dumps({"type": "input_audio_buffer.append", "event_id": event_id, "audio": audio})


def test_append_holds_the_decoded_bytes() -> None:
    event = parse_client_event(append(base64.b64encode(OGG_START).decode()))
    assert isinstance(event, InputAudioBufferAppend)
    assert event.audio == OGG_START
    assert event.event_id == "a1"


def test_append_round_trips_to_the_same_base64() -> None:
    text = base64.b64encode(b"\x00\x01\xfe\xff" * 10).decode()
    event = parse_client_event(append(text))
    assert json.loads(event.model_dump_json())["audio"] == text


@pytest.mark.parametrize(
    ("audio", "fragment"),
    [
        ("", "is empty"),
        ("AAA", "not valid base64"),  # a missing padding character
        ("AA==AA==", "not valid base64"),  # data after the padding
        ("AAAA AAAA", "not valid base64"),  # whitespace
        ("AAAA\nAAAA", "not valid base64"),
        ("-_-_", "not valid base64"),  # the URL-safe alphabet
        ("AAé=", "not valid base64"),  # not ASCII
        ("=AAA", "not valid base64"),
        (1234, "valid string"),
        (None, "valid string"),
    ],
)
def test_append_refuses_what_is_not_strict_base64(audio: object, fragment: str) -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse_client_event(append(audio, event_id="bad"))
    invalid = raised.value
    assert invalid.code is ErrorCode.INVALID_EVENT
    assert invalid.param == "audio"
    assert invalid.event_id == "bad"
    assert invalid.event_type == "input_audio_buffer.append"
    assert invalid.message.startswith("input_audio_buffer.append: field 'audio' ")
    assert fragment in invalid.message


def test_append_without_audio_says_it_is_required() -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse_client_event('{"type": "input_audio_buffer.append"}')
    assert raised.value.param == "audio"
    assert raised.value.message == "input_audio_buffer.append: field 'audio' is required"


def test_a_large_garbage_append_gives_a_short_message() -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse_client_event(append("!" * 2_000_000))
    assert len(raised.value.message) < 300


def test_commit_and_clear_need_only_their_type() -> None:
    commit = parse_client_event('{"type": "input_audio_buffer.commit", "event_id": "c"}')
    clear = parse_client_event('{"type": "input_audio_buffer.clear"}')
    assert isinstance(commit, InputAudioBufferCommit)
    assert commit.event_id == "c"
    assert isinstance(clear, InputAudioBufferClear)


def test_the_client_schema_takes_the_audio_events() -> None:
    assert CLIENT_SCHEMA.is_valid({"type": "input_audio_buffer.append", "audio": "AAAA"})
    assert not CLIENT_SCHEMA.is_valid({"type": "input_audio_buffer.append"})
    assert not CLIENT_SCHEMA.is_valid({"type": "input_audio_buffer.append", "audio": ""})
    assert CLIENT_SCHEMA.is_valid({"type": "input_audio_buffer.commit"})
    assert CLIENT_SCHEMA.is_valid({"type": "input_audio_buffer.clear", "event_id": "x"})


# --------------------------------------------------------------------------- server events

AUDIO_SERVER_EVENTS: list[AnyServerEvent] = [
    InputAudioBufferSpeechStarted(audio_start_ms=1200, item_id="item_1"),
    InputAudioBufferSpeechStopped(audio_end_ms=2600, item_id="item_1"),
    InputAudioBufferCommitted(previous_item_id=None, item_id="item_1"),
    InputAudioBufferCommitted(previous_item_id="item_0", item_id="item_1"),
    InputAudioBufferCleared(),
    InputAudioTranscriptionDelta(item_id="item_1", delta=" hello", start_time=1.25),
    InputAudioTranscriptionCompleted(
        item_id="item_1", transcript="hello there", usage=TranscriptionUsage(seconds=1.4)
    ),
    InputAudioTranscriptionFailed(
        item_id="item_1",
        error=TranscriptionError(
            code=ErrorCode.VOICE_ENGINE_TIMEOUT, message="the STT sent no text within 5 s"
        ),
    ),
    response_audio_delta("resp_1", "item_2", OGG_START),
    ResponseAudioDone(response_id="resp_1", item_id="item_2"),
    ResponseAudioTranscriptDelta(response_id="resp_1", item_id="item_2", delta="Bonjour"),
    ResponseAudioTranscriptDone(
        response_id="resp_1", item_id="item_2", transcript="Bonjour, I am Charles."
    ),
]


@pytest.mark.parametrize("event", AUDIO_SERVER_EVENTS, ids=lambda event: event.type)
def test_every_audio_server_event_is_what_the_openai_sdk_expects(event: AnyServerEvent) -> None:
    frame = encode(event)
    payload = json.loads(frame)
    SERVER_SCHEMA.validate(payload)
    read = SDK_SERVER_EVENTS.validate_json(frame)
    assert read.type == event.type
    assert read.event_id == payload["event_id"]
    # Our own union reads it back to the same event.
    assert SERVER_EVENTS.validate_json(frame) == event


def test_an_audio_delta_carries_the_bytes_as_base64() -> None:
    payload = json.loads(encode(response_audio_delta("resp_1", "item_2", OGG_START)))
    assert base64.b64decode(payload["delta"], validate=True) == OGG_START
    assert (payload["output_index"], payload["content_index"]) == (0, 0)


def test_a_transcription_delta_keeps_unmutes_start_time() -> None:
    payload = json.loads(
        encode(InputAudioTranscriptionDelta(item_id="item_1", delta="hi", start_time=0.5))
    )
    assert payload["start_time"] == 0.5
    assert payload["content_index"] == 0
