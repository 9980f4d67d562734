"""The moshi-server MessagePack messages: the fast audio paths equal msgpack's, bad bytes fail."""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from unmute_server.voice._kyutai_wire import (
    Audio,
    AudioFrameEncoder,
    EndWord,
    Marker,
    Ready,
    ServerError,
    Step,
    TextAlignment,
    Unknown,
    WireError,
    Word,
    encode_audio,
    encode_eos,
    encode_marker,
    encode_text,
    parse_stt_message,
    parse_tts_message,
)

float32_samples = hnp.arrays(
    np.float32,
    st.sampled_from([0, 1, 15, 16, 1919, 1920, 1921]),
    elements=st.floats(-1.0, 1.0, width=32),
)


def packed(message: dict[str, Any], *, single: bool = True) -> bytes:
    return bytes(msgpack.packb(message, use_single_float=single))


@given(float32_samples)
def test_encoded_audio_is_byte_for_byte_what_msgpack_writes(pcm: np.ndarray) -> None:
    assert encode_audio(pcm) == packed({"type": "Audio", "pcm": pcm.tolist()})


@given(float32_samples, float32_samples)
def test_a_frame_encoder_writes_what_msgpack_writes_and_keeps_no_frame_alive(
    first: np.ndarray, second: np.ndarray
) -> None:
    encoder = AudioFrameEncoder(len(first))
    encoded = encoder.encode(first)
    assert encoded == packed({"type": "Audio", "pcm": first.tolist()})
    if len(second) == len(first):
        again = encoder.encode(second)  # the encoder reuses its buffer, never the bytes it gave
        assert again == packed({"type": "Audio", "pcm": second.tolist()})
        assert encoded == packed({"type": "Audio", "pcm": first.tolist()})


def test_a_frame_encoder_refuses_a_frame_of_another_size() -> None:
    encoder = AudioFrameEncoder(1920)
    with pytest.raises(ValueError, match="1919 samples, not the encoder's 1920"):
        encoder.encode(np.zeros(1919, dtype=np.float32))


def test_encoded_audio_of_more_than_65535_samples_uses_the_long_array_form() -> None:
    pcm = np.linspace(-1, 1, 70_000, dtype=np.float32)
    assert encode_audio(pcm) == packed({"type": "Audio", "pcm": pcm.tolist()})


@given(float32_samples)
def test_audio_in_moshi_servers_layout_reads_as_msgpack_reads_it(pcm: np.ndarray) -> None:
    message = parse_tts_message(packed({"type": "Audio", "pcm": pcm.tolist()}))
    assert isinstance(message, Audio)
    assert message.pcm.dtype == np.float32
    np.testing.assert_array_equal(message.pcm, pcm)


def test_audio_in_another_layout_is_read_through_msgpack() -> None:
    pcm = [0.5, -0.25, 0.125]
    for data in (
        packed({"type": "Audio", "pcm": pcm}, single=False),  # float64 elements
        packed({"pcm": pcm, "type": "Audio"}),  # keys in the other order
        packed({"type": "Audio", "pcm": [1, 0, -1]}),  # integers
    ):
        message = parse_tts_message(data)
        assert isinstance(message, Audio)
        assert message.pcm.dtype == np.float32
        assert len(message.pcm) == 3


def test_audio_of_float32_sized_elements_that_are_not_float32_is_read_through_msgpack() -> None:
    # 100000 is a uint32 (0xce and four bytes): as long as a float32 element, but not one.
    message = parse_tts_message(packed({"type": "Audio", "pcm": [0.5, 100000, -0.25]}))
    assert isinstance(message, Audio)
    np.testing.assert_array_equal(message.pcm, np.array([0.5, 100000.0, -0.25], np.float32))


def test_server_messages_parse_to_their_values() -> None:
    assert parse_stt_message(packed({"type": "Ready"})) == Ready()
    assert parse_stt_message(packed({"type": "Word", "text": "hi", "start_time": 1.5})) == Word(
        "hi", 1.5
    )
    assert parse_stt_message(packed({"type": "EndWord", "stop_time": 2})) == EndWord(2.0)
    assert parse_stt_message(packed({"type": "Marker", "id": 7})) == Marker(7)
    step = {"type": "Step", "step_idx": 3, "prs": [0.5, 0.25], "buffered_pcm": 960}
    assert parse_stt_message(packed(step)) == Step(3, (0.5, 0.25), 960)
    del step["buffered_pcm"]  # older servers do not send it
    assert parse_stt_message(packed(step)) == Step(3, (0.5, 0.25), 0)
    assert parse_stt_message(packed({"type": "Error", "message": "x"})) == ServerError("x")
    text = {"type": "Text", "text": "hi", "start_s": 0.5, "stop_s": 0.75}
    assert parse_tts_message(packed(text)) == TextAlignment("hi", 0.5, 0.75)
    assert parse_tts_message(packed({"type": "OggOpus", "data": b"x"})) == Unknown("OggOpus")


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1",  # a byte MessagePack never uses
        b"",
        packed({"type": "Ready"}) + b"\x00",  # trailing bytes
        bytes(msgpack.packb([1, 2])),  # not a map
        bytes(msgpack.packb({"kind": "Ready"})),  # no type
        packed({"type": "Word", "text": 5, "start_time": 0.0}),
        packed({"type": "Word", "text": "hi"}),
        packed({"type": "Step", "step_idx": 0, "prs": ["a"]}),
        packed({"type": "Marker", "id": 1.5}),
        packed({"type": "Marker", "id": True}),
        packed({"type": "Error"}),
    ],
)
def test_malformed_stt_messages_are_wire_errors(data: bytes) -> None:
    with pytest.raises(WireError):
        parse_stt_message(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1",
        packed({"type": "Audio", "pcm": [0.5, "loud"]}),
        packed({"type": "Audio", "pcm": "loud"}),
        # The fast path's prefix with a length that does not match the bytes that follow.
        b"\x82\xa4type\xa5Audio\xa3pcm\x92\xca\x00\x00\x00\x00",
        packed({"type": "Text", "text": "hi", "start_s": "soon", "stop_s": 1.0}),
    ],
)
def test_malformed_tts_messages_are_wire_errors(data: bytes) -> None:
    with pytest.raises(WireError):
        parse_tts_message(data)


def test_client_messages_are_the_maps_the_servers_read() -> None:
    assert msgpack.unpackb(encode_marker(3)) == {"type": "Marker", "id": 3}
    assert msgpack.unpackb(encode_text("hello")) == {"type": "Text", "text": "hello"}
    assert msgpack.unpackb(encode_eos()) == {"type": "Eos"}
