"""The streaming resampler: exact lengths, the same samples however it is fed, a clean band."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from unmute_server.voice.resample import Resampler, resample

RATES = [(24_000, 16_000), (22_050, 24_000), (16_000, 24_000), (48_000, 24_000)]


def _tone(frequency: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    time = np.arange(round(rate * seconds)) / rate
    return np.sin(2 * np.pi * frequency * time).astype(np.float32)


@pytest.mark.parametrize(("src", "dst"), RATES)
@pytest.mark.parametrize("length", [0, 1, 2, 3, 147, 12_345])
def test_output_length_is_exact(src: int, dst: int, length: int) -> None:
    pcm = np.ones(length, dtype=np.float32)
    assert len(resample(pcm, src, dst)) == math.ceil(length * dst / src)


@given(
    cuts=st.lists(st.integers(min_value=0, max_value=900), max_size=30),
    rates=st.sampled_from(RATES),
)
def test_chunked_feeding_gives_the_same_samples_as_one_buffer(
    cuts: list[int], rates: tuple[int, int]
) -> None:
    src, dst = rates
    pcm = np.random.default_rng(7).standard_normal(sum(cuts) + 5).astype(np.float32)
    resampler = Resampler(src, dst)
    pieces, start = [], 0
    for size in [*cuts, 5]:
        pieces.append(resampler.process(pcm[start : start + size]))
        start += size
    pieces.append(resampler.flush())
    assert np.array_equal(np.concatenate(pieces), resample(pcm, src, dst))


@pytest.mark.parametrize(("src", "dst"), RATES)
def test_a_tone_in_the_pass_band_keeps_its_frequency_phase_and_level(src: int, dst: int) -> None:
    converted = resample(_tone(1000, src), src, dst)
    expected = _tone(1000, dst)[: len(converted)]
    middle = slice(200, -200)  # the ends are read against silence
    assert np.max(np.abs(converted[middle] - expected[middle])) < 1e-3


def test_a_tone_above_the_new_nyquist_frequency_is_removed() -> None:
    converted = resample(_tone(10_000, 24_000), 24_000, 16_000)
    level = float(np.sqrt(np.mean(converted[500:-500] ** 2)))
    assert level < 1e-3  # from 0.707: more than 57 dB down


def test_a_flushed_resampler_refuses_more_audio() -> None:
    resampler = Resampler(24_000, 16_000)
    resampler.flush()
    assert len(resampler.flush()) == 0
    with pytest.raises(RuntimeError):
        resampler.process(np.zeros(10, dtype=np.float32))
