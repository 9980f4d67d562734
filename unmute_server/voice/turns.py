"""Server voice-activity detection: when the person starts and stops speaking.

``webrtcvad`` classifies 30 ms frames at 16 kHz as speech or not; one frame is a poor witness
(a click, a breath), so a turn starts when most of a short window is speech and ends after
``silence_duration_ms`` without any. The settings are OpenAI's ``server_vad`` ones, so clients
that tune them for OpenAI get the behaviour they expect: ``threshold`` picks webrtcvad's
aggressiveness, ``silence_duration_ms`` how long a pause ends a turn, ``prefix_padding_ms`` how
much audio before the detected start the transcription is given.

A pure state machine over samples: no clock, no I/O. Times are milliseconds of the session's
audio (samples received), as OpenAI's ``audio_start_ms`` and ``audio_end_ms`` are.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

import numpy as np
import webrtcvad

from unmute_server.voice.audio import Pcm

#: webrtcvad's rate and frame: 30 ms at 16 kHz.
VAD_RATE: Final = 16_000
FRAME_MS: Final = 30
_FRAME_SAMPLES: Final = VAD_RATE * FRAME_MS // 1000

#: A turn starts when ``_START_VOICED`` of the last ``_START_WINDOW`` frames are speech.
_START_WINDOW: Final = 5
_START_VOICED: Final = 4


@dataclass(frozen=True, slots=True)
class TurnDetection:
    """OpenAI's ``server_vad`` settings (the same defaults)."""

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    #: Whether the end of a turn starts a response on its own.
    create_response: bool = True
    #: Whether speech during an answer interrupts it (barge-in).
    interrupt_response: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, not {self.threshold}")
        if not 0 <= self.prefix_padding_ms <= 10_000:
            raise ValueError("prefix_padding_ms must be between 0 and 10000")
        if not FRAME_MS <= self.silence_duration_ms <= 10_000:
            raise ValueError(f"silence_duration_ms must be between {FRAME_MS} and 10000")

    @property
    def vad_mode(self) -> int:
        """webrtcvad's aggressiveness (0-3) for ``threshold``: a higher threshold asks for
        clearer speech, as OpenAI's does."""
        return min(3, int(self.threshold * 4))


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The person started speaking at ``audio_start_ms`` (the first voiced frame)."""

    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """The person stopped speaking at ``audio_end_ms`` (the end of the last voiced frame)."""

    audio_end_ms: int


TurnEvent = SpeechStarted | SpeechStopped


class TurnDetector:
    """Feed it the session's audio in order; it says when turns start and end."""

    __slots__ = (
        "_config",
        "_frames_seen",
        "_in_speech",
        "_last_voiced_end",
        "_pending",
        "_recent",
        "_silent_frames",
        "_vad",
        "_vad_buffer",
    )

    def __init__(self, config: TurnDetection) -> None:
        self._config = config
        self._vad = webrtcvad.Vad(config.vad_mode)
        # 24 kHz samples not yet resampled (a multiple of 3 is resampled at a time), and
        # 16 kHz samples not yet making a whole frame.
        self._pending: Pcm = np.zeros(0, dtype=np.float32)
        self._vad_buffer = np.zeros(0, dtype=np.int16)
        self._frames_seen = 0
        self._recent: deque[bool] = deque(maxlen=_START_WINDOW)
        self._in_speech = False
        self._silent_frames = 0
        self._last_voiced_end = 0

    @property
    def in_speech(self) -> bool:
        """Whether a turn has started and not yet ended."""
        return self._in_speech

    def push(self, pcm: Pcm) -> list[TurnEvent]:
        """Classify ``pcm`` (24 kHz); the turn starts and ends it completes, in order."""
        events: list[TurnEvent] = []
        for frame in self._frames(pcm):
            start_ms = self._frames_seen * FRAME_MS
            self._frames_seen += 1
            voiced = self._vad.is_speech(frame, VAD_RATE)
            self._recent.append(voiced)
            if voiced:
                self._last_voiced_end = start_ms + FRAME_MS
                self._silent_frames = 0
            else:
                self._silent_frames += 1
            if not self._in_speech:
                if sum(self._recent) >= _START_VOICED:
                    self._in_speech = True
                    first = len(self._recent) - 1 - list(self._recent).index(True)
                    events.append(SpeechStarted(max(0, start_ms - first * FRAME_MS)))
            elif self._silent_frames * FRAME_MS >= self._config.silence_duration_ms:
                self._in_speech = False
                self._recent.clear()
                events.append(SpeechStopped(self._last_voiced_end))
        return events

    def reset(self) -> None:
        """Forget a turn in progress (``input_audio_buffer.clear``); time goes on counting."""
        self._in_speech = False
        self._recent.clear()
        self._silent_frames = 0

    def _frames(self, pcm: Pcm) -> list[bytes]:
        """``pcm`` at 16 kHz as whole 30 ms frames of int16 bytes; the rest waits."""
        pending = np.concatenate((self._pending, pcm)) if len(self._pending) else pcm
        usable = len(pending) - len(pending) % 3
        self._pending = np.ascontiguousarray(pending[usable:], dtype=np.float32)
        triples = pending[:usable].reshape(-1, 3)
        # 24 kHz to 16 kHz exactly (3 samples to 2), by linear interpolation: output samples
        # fall on input sample 0 and half-way between 1 and 2 of every triple. Crude as audio,
        # but webrtcvad looks at band energies below 4 kHz, and the count stays exact.
        resampled = np.empty(len(triples) * 2, dtype=np.float32)
        resampled[0::2] = triples[:, 0]
        resampled[1::2] = (triples[:, 1] + triples[:, 2]) * 0.5
        samples = (np.clip(resampled, -1.0, 1.0) * 32767.0).astype(np.int16)
        buffered = np.concatenate((self._vad_buffer, samples))
        whole = len(buffered) - len(buffered) % _FRAME_SAMPLES
        self._vad_buffer = buffered[whole:]
        return [
            buffered[start : start + _FRAME_SAMPLES].tobytes()
            for start in range(0, whole, _FRAME_SAMPLES)
        ]
