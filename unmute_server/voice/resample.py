"""Streaming sample-rate conversion with an exact output length.

``sphn.resample`` converts a whole buffer, and its output length is not exactly
``len * dst / src``; fed chunk by chunk, each chunk is filtered on its own, with clicks at every
boundary. The engines need the stream kind: pocketsphinx hears 24 kHz audio at 16 kHz, 20 ms at a
time, and espeak-ng's 22,050 Hz output is played at 24 kHz as it is produced. So this is a
polyphase windowed-sinc converter that keeps the few input samples the next output needs: fed in
any chunking, it gives the same samples as fed at once, and ``ceil(n * dst / src)`` of them in
all (output sample ``k`` sits at input time ``k * src / dst``, with no delay).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

#: Zero crossings of the sinc on each side: about 60 dB of stop-band with the Kaiser window.
_ZERO_CROSSINGS = 16
_KAISER_BETA = 8.0
#: Where the pass band ends, as a fraction of the lower Nyquist frequency.
_ROLLOFF = 0.92


class Resampler:
    """Converts one mono float32 stream from ``src_rate`` to ``dst_rate``, chunk by chunk."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError("sample rates must be positive")
        divisor = math.gcd(src_rate, dst_rate)
        self._up = dst_rate // divisor  # output samples per ...
        self._down = src_rate // divisor  # ... this many input samples
        cutoff = 0.5 * min(1.0, self._up / self._down) * _ROLLOFF  # cycles per input sample
        half_width = _ZERO_CROSSINGS / (2 * cutoff)  # input samples on each side
        reach = math.ceil(half_width)
        #: Input offsets around ``floor(t)`` that one output sample reads.
        self._offsets = np.arange(-reach + 1, reach + 1)
        phases = np.arange(self._up)[:, None] / self._up  # the fractional part of t
        distance = phases - self._offsets[None, :]  # t - n, for each phase and tap
        inside = np.clip(1.0 - (distance / half_width) ** 2, 0.0, None)
        window = np.i0(_KAISER_BETA * np.sqrt(inside)) / np.i0(_KAISER_BETA)
        window[np.abs(distance) >= half_width] = 0.0
        taps = 2 * cutoff * np.sinc(2 * cutoff * distance) * window
        self._taps = (taps / taps.sum(axis=1, keepdims=True)).astype(np.float32)
        self._reach = reach
        # Input held for outputs still to come: absolute index ``_held_from`` onwards. Indices
        # below zero are silence, so the first outputs see a zero history.
        self._held = np.zeros(reach - 1, dtype=np.float32)
        self._held_from = -(reach - 1)
        self._received = 0  # input samples fed so far
        self._produced = 0  # output samples given so far
        self._flushed = False

    def process(self, pcm: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Feed the next input samples; return every output sample they complete."""
        if self._flushed:
            raise RuntimeError("the resampler was flushed; make a new one")
        samples = np.asarray(pcm, dtype=np.float32).reshape(-1)
        self._held = np.concatenate((self._held, samples))
        self._received += len(samples)
        # Output k needs input up to floor(k*M/L) + reach, which must have arrived.
        last_ready = self._received - 1 - self._reach
        if last_ready < 0:
            return np.zeros(0, dtype=np.float32)
        end = -(-(last_ready + 1) * self._up // self._down)
        return self._produce(end)

    def flush(self) -> npt.NDArray[np.float32]:
        """The stream ended: the outputs still owed, read against silence after the end."""
        if self._flushed:
            return np.zeros(0, dtype=np.float32)
        self._held = np.concatenate((self._held, np.zeros(self._reach, dtype=np.float32)))
        self._flushed = True
        end = -(-self._received * self._up // self._down)  # ceil(received * L / M)
        return self._produce(end)

    def _produce(self, end: int) -> npt.NDArray[np.float32]:
        start = self._produced
        if end <= start:
            return np.zeros(0, dtype=np.float32)
        positions = np.arange(start, end, dtype=np.int64) * self._down
        whole = positions // self._up
        phase = positions % self._up
        indexes = whole[:, None] + self._offsets[None, :] - self._held_from
        output: npt.NDArray[np.float32] = np.einsum(
            "ij,ij->i", self._held[indexes], self._taps[phase], dtype=np.float32
        )
        self._produced = end
        # Keep only what the next output reads: from floor(end*M/L) - reach + 1 on.
        keep_from = (end * self._down) // self._up - self._reach + 1
        drop = max(0, keep_from - self._held_from)
        self._held = self._held[drop:]
        self._held_from += drop
        return output


def resample(pcm: npt.NDArray[np.float32], src_rate: int, dst_rate: int) -> npt.NDArray[np.float32]:
    """A whole buffer converted at once: ``ceil(len(pcm) * dst_rate / src_rate)`` samples."""
    resampler = Resampler(src_rate, dst_rate)
    return np.concatenate((resampler.process(pcm), resampler.flush()))
