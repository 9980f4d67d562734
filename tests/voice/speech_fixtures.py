"""The committed speech fixtures (``tests/fixtures/speech/``), read as the server holds audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sphn  # no type hints of its own

from unmute_server.voice.audio import SAMPLE_RATE, Pcm
from unmute_server.voice.resample import resample

FOLDER = Path(__file__).parents[1] / "fixtures" / "speech"


def text(name: str) -> str:
    """What is said in fixture ``name``."""
    return (FOLDER / f"{name}.txt").read_text(encoding="utf-8").strip()


def pcm16_bytes(name: str) -> bytes:
    """The fixture as a client sends PCM16: little-endian, 24 kHz mono."""
    return (FOLDER / f"{name}.pcm").read_bytes()


def ogg_bytes(name: str) -> bytes:
    """The fixture as a client sends Ogg Opus pages."""
    return (FOLDER / f"{name}.opus").read_bytes()


def pcm(name: str) -> Pcm:
    """The PCM16 fixture as float32 at 24 kHz."""
    samples = np.frombuffer(pcm16_bytes(name), dtype="<i2")
    return (samples.astype(np.float32) / 32768).astype(np.float32)


def decoded_opus(name: str) -> Pcm:
    """The Ogg Opus fixture decoded (libopus gives 48 kHz) and brought to 24 kHz."""
    decoded, rate = sphn.read_opus_bytes(ogg_bytes(name))
    return resample(np.asarray(decoded[0], dtype=np.float32), int(rate), SAMPLE_RATE)
