"""Speech for voice-session tests: real espeak-ng output, in both client formats."""

from __future__ import annotations

import base64
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from unmute_server.voice.audio import SAMPLE_RATE, Pcm, silence
from unmute_server.voice.codec import (
    OggOpusDecoder,
    OggOpusEncoder,
    Pcm16Decoder,
    Pcm16Encoder,
    resample,
)

Json = dict[str, Any]


def speak(text: str, folder: Path, voice: str = "en") -> Pcm:
    """``text`` spoken by espeak-ng, at 24 kHz."""
    path = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return resample(samples.astype(np.float32) / 32768.0, rate, SAMPLE_RATE)


def utterance(speech: Pcm, *, before: float = 0.5, after: float = 1.5) -> Pcm:
    """``speech`` with silence around it, as a microphone would send it."""
    return np.concatenate((silence(before), speech, silence(after)))


def ogg(pcm: Pcm) -> bytes:
    encoder = OggOpusEncoder()
    return encoder.encode(pcm) + encoder.flush()


def pcm16(pcm: Pcm) -> bytes:
    return Pcm16Encoder().encode(pcm)


def appends(data: bytes, size: int = 8_000) -> Iterator[Json]:
    """``input_audio_buffer.append`` events carrying ``data`` in pieces cut anywhere."""
    for start in range(0, len(data), size):
        piece = base64.b64encode(data[start : start + size]).decode("ascii")
        yield {"type": "input_audio_buffer.append", "audio": piece}


def audio_of(events: list[Json]) -> bytes:
    """The answer's audio bytes, joined from its ``response.audio.delta`` events."""
    return b"".join(
        base64.b64decode(event["delta"])
        for event in events
        if event["type"] == "response.audio.delta"
    )


def seconds_of(data: bytes, *, ogg_format: bool) -> float:
    """How long the answer's audio lasts once decoded."""
    decoder = OggOpusDecoder() if ogg_format else Pcm16Decoder()
    return len(decoder.decode(data)) / SAMPLE_RATE


def types(events: list[Json]) -> list[str]:
    return [event["type"] for event in events]
