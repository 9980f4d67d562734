"""Ogg Opus and PCM16 in and out, through sphn for real."""

from __future__ import annotations

import numpy as np
import pytest

from unmute_server.voice.audio import SAMPLE_RATE, Pcm
from unmute_server.voice.codec import (
    OGG_MAGIC,
    AudioFormat,
    InvalidAudioError,
    OggOpusDecoder,
    OggOpusEncoder,
    Pcm16Decoder,
    Pcm16Encoder,
    decoder_for,
    detect_format,
    encoder_for,
)


def tone(seconds: float, frequency: float = 440.0, level: float = 0.3) -> Pcm:
    t = np.arange(round(seconds * SAMPLE_RATE), dtype=np.float32) / SAMPLE_RATE
    return (level * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def ogg_of(pcm: Pcm) -> bytes:
    encoder = OggOpusEncoder()
    return encoder.encode(pcm) + encoder.flush()


def test_detect_format_tells_ogg_from_pcm16_by_the_first_bytes() -> None:
    assert detect_format(ogg_of(tone(0.2))[:8]) is AudioFormat.OGG_OPUS
    assert detect_format(Pcm16Encoder().encode(tone(0.2))[:8]) is AudioFormat.PCM16
    assert detect_format(b"") is AudioFormat.PCM16


def test_pcm16_round_trips_and_an_odd_byte_waits_for_the_next_chunk() -> None:
    pcm = tone(0.5)
    data = Pcm16Encoder().encode(pcm)
    decoder = Pcm16Decoder()
    parts = [decoder.decode(data[start : start + 1001]) for start in range(0, len(data), 1001)]
    decoded = np.concatenate(parts)
    assert decoded.dtype == np.float32
    assert len(decoded) == len(pcm)
    assert np.abs(decoded - pcm).max() < 1e-4


def test_pcm16_encoder_clips_instead_of_wrapping_around() -> None:
    data = Pcm16Encoder().encode(np.array([2.0, -2.0], dtype=np.float32))
    assert np.frombuffer(data, dtype="<i2").tolist() == [32767, -32767]


def test_ogg_opus_round_trips_through_pages_cut_anywhere() -> None:
    pcm = tone(1.0)
    data = ogg_of(pcm)
    assert data.startswith(OGG_MAGIC)
    decoder = OggOpusDecoder()
    decoded = np.concatenate([decoder.decode(data[i : i + 97]) for i in range(0, len(data), 97)])
    # Opus adds its pre-skip and a padded last frame; the tone is all there, at its level.
    assert len(decoded) >= len(pcm)
    assert len(decoded) < len(pcm) + 2 * 1920
    assert 0.2 < float(np.abs(decoded).max()) < 0.45


def test_each_answer_is_a_whole_ogg_stream_a_player_can_start_on() -> None:
    for _ in range(2):
        data = ogg_of(tone(0.3))
        assert data.startswith(OGG_MAGIC)
        assert len(OggOpusDecoder().decode(data)) > 0


def test_garbage_is_invalid_audio_and_a_fresh_stream_decodes_afterwards() -> None:
    decoder = OggOpusDecoder()
    with pytest.raises(InvalidAudioError, match="not a valid Ogg Opus stream"):
        decoder.decode(OGG_MAGIC + b"\x07not a page at all" * 20)
    assert len(decoder.decode(ogg_of(tone(0.3)))) > 0


def test_half_a_page_decodes_nothing_until_the_rest_arrives() -> None:
    data = ogg_of(tone(0.5))
    decoder = OggOpusDecoder()
    assert len(decoder.decode(data[:30])) == 0
    assert len(decoder.decode(data[30:])) > 0


def test_factories_give_fresh_codecs_per_format() -> None:
    assert isinstance(decoder_for(AudioFormat.OGG_OPUS), OggOpusDecoder)
    assert isinstance(decoder_for(AudioFormat.PCM16), Pcm16Decoder)
    assert isinstance(encoder_for(AudioFormat.OGG_OPUS), OggOpusEncoder)
    assert isinstance(encoder_for(AudioFormat.PCM16), Pcm16Encoder)
    assert encoder_for(AudioFormat.OGG_OPUS) is not encoder_for(AudioFormat.OGG_OPUS)


def test_a_new_stream_after_garbage_in_the_same_chunk_is_salvaged() -> None:
    decoder = OggOpusDecoder()
    with pytest.raises(InvalidAudioError) as invalid:
        decoder.decode(b"x" * 40 + ogg_of(tone(0.5)))
    assert len(invalid.value.salvaged) > 0.4 * SAMPLE_RATE


def test_bytes_that_only_look_like_a_page_start_are_refused_within_a_bound() -> None:
    decoder = OggOpusDecoder()
    fake_header = OGG_MAGIC + b"\x00\x01" + b"\xff" * 30  # claims a page of many segments
    assert len(decoder.decode(fake_header)) == 0  # could still be a page arriving
    messages: list[str] = []
    for _ in range(20):
        try:
            decoder.decode(b"\x00" * 8_000)
        except InvalidAudioError as invalid:
            messages.append(invalid.message)
    assert messages
    assert all("not a valid Ogg Opus stream" in message for message in messages)
    assert len(decoder.decode(ogg_of(tone(0.3)))) > 0


def test_the_codec_speaks_every_format_the_protocol_names() -> None:
    from unmute_server.protocol.session_audio import AudioFormat as ProtocolAudioFormat

    assert {named.value for named in ProtocolAudioFormat} == {known.value for known in AudioFormat}
