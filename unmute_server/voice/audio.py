"""How audio is held between the stages of the voice path.

One representation everywhere inside the server: mono float32 samples in [-1, 1] at
:data:`SAMPLE_RATE`. Clients' formats (Ogg Opus, PCM16) are converted at the edges
(:mod:`unmute_server.voice.codec`), and each engine converts to what it needs (16 kHz for
webrtcvad and pocketsphinx, 22,050 Hz from espeak-ng), so the stages in between never ask which
format a session speaks.
"""

from __future__ import annotations

from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt

#: The rate of every :data:`Pcm` chunk: what kyutai-labs/unmute and the OpenAI Realtime API use.
SAMPLE_RATE: Final = 24_000

#: Mono float32 samples in [-1, 1] at :data:`SAMPLE_RATE`, one dimension.
Pcm: TypeAlias = npt.NDArray[np.float32]


def silence(seconds: float) -> Pcm:
    """``seconds`` of silence at :data:`SAMPLE_RATE`."""
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)


def duration(pcm: Pcm) -> float:
    """How long ``pcm`` lasts, in seconds."""
    return len(pcm) / SAMPLE_RATE
