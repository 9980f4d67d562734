"""A pocketsphinx decoder in its own process: ``python -m unmute_server.voice.stt._sphinx_worker``.

Why a process and not a thread: pocketsphinx holds the GIL while it decodes (measured: a thread
spinning beside a decode ran 2% of its usual count), so a decoding thread would stall the event
loop for as long as each call lasts, and the final pass over a whole utterance lasts hundreds of
milliseconds. In a process it stalls nothing, and two utterances really decode on two cores.

One utterance at a time, two passes:

- while the person speaks, each chunk is decoded at once for partial hypotheses (live cepstral
  mean normalisation, which only starts from a prior, so these are rough);
- at the end, the whole utterance is decoded again with the normalisation computed over the
  utterance itself (batch CMN): on espeak-ng speech it found 0.59 of the words against 0.38 for the
  live pass, at about the same cost again.

The feature extraction is re-initialised at every utterance, which resets the normalisation, so a
transcript never depends on the utterances before it. A comfort-noise floor (-50 dBFS, from a fixed
seed) is added to the audio: digital silence (a synthesiser's or a muted microphone's exact zeros)
has no energy floor, and its frames throw the normalisation off (word accuracy fell from 0.6 to
0.1 on exact-zero pauses); a microphone's own noise floor is about as loud, so it changes little.
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt

from unmute_server.voice.audio import SAMPLE_RATE
from unmute_server.voice.resample import Resampler
from unmute_server.voice.stt import _sphinx_wire as wire

#: pocketsphinx's acoustic model is trained at 16 kHz.
DECODER_RATE: Final = 16_000
#: Past this much audio an utterance keeps only its live transcript (the final pass is skipped),
#: so one utterance's buffer stays bounded (about 2 MB).
MAX_UTTERANCE_SECONDS: Final = 60
COMFORT_NOISE_RMS: Final = 3e-3

#: The lighter search: at most 3,000 active HMMs per frame and no second flat-lexicon pass. On
#: thirty espeak-ng utterances it found 0.60 of the words against 0.61 with pocketsphinx's
#: defaults, at about half the cost (real-time factor 0.12-0.16 against 0.29 per pass).
SEARCH_SETTINGS: Final[dict[str, Any]] = {"maxhmmpf": 3000, "fwdflat": False}


def load_decoder() -> tuple[Any, Any, Any]:
    """The decoder of the en-US model shipped in the wheel, and its live and batch settings."""
    import pocketsphinx

    def config(cmn: str) -> Any:
        settings = pocketsphinx.Config(loglevel="FATAL", cmn=cmn)
        for key, value in SEARCH_SETTINGS.items():
            settings[key] = value
        return settings

    live, batch = config("live"), config("batch")
    return pocketsphinx.Decoder(live), live, batch


class Utterance:
    """One utterance on the worker's decoder."""

    def __init__(self, decoder: Any, live: Any, batch: Any) -> None:
        self._decoder = decoder
        self._batch = batch
        self._resampler = Resampler(SAMPLE_RATE, DECODER_RATE)
        self._noise = np.random.default_rng(0)
        self._heard: list[bytes] = []
        self._heard_samples = 0
        decoder.reinit_feat(live)
        decoder.start_utt()
        self._open = True

    def feed(self, pcm: npt.NDArray[np.float32]) -> str:
        self._decode(self._resampler.process(pcm))
        return self._hypothesis()

    def finish(self) -> str:
        self._decode(self._resampler.flush())
        self._decoder.end_utt()
        self._open = False
        if self._heard_samples > MAX_UTTERANCE_SECONDS * DECODER_RATE:
            return self._hypothesis()
        self._decoder.reinit_feat(self._batch)
        self._decoder.start_utt()
        self._decoder.process_raw(b"".join(self._heard), False, True)
        self._decoder.end_utt()
        return self._hypothesis()

    def abort(self) -> None:
        if self._open:
            self._decoder.end_utt()
            self._open = False

    def _decode(self, pcm: npt.NDArray[np.float32]) -> None:
        if not len(pcm):
            return
        noise = self._noise.standard_normal(len(pcm)).astype(np.float32) * COMFORT_NOISE_RMS
        samples = (np.clip(pcm + noise, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        if self._heard_samples <= MAX_UTTERANCE_SECONDS * DECODER_RATE:
            self._heard.append(samples)
        self._heard_samples += len(pcm)
        self._decoder.process_raw(samples, False, False)

    def _hypothesis(self) -> str:
        hypothesis = self._decoder.hyp()
        return str(hypothesis.hypstr) if hypothesis is not None else ""


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer requests until the server closes the pipe; a model that cannot load is
    reported (``ERROR`` with the reason instead of ``READY``) so the server can say why."""
    try:
        decoder, live, batch = load_decoder()
    except Exception as error:
        answers.write(wire.encode(wire.ERROR, f"{type(error).__name__}: {error}".encode()))
        answers.flush()
        return

    def answer(kind: bytes, payload: bytes = b"") -> None:
        answers.write(wire.encode(kind, payload))
        answers.flush()

    answer(wire.READY)
    utterance: Utterance | None = None
    while (frame := wire.read_frame(requests)) is not None:
        kind, payload = frame
        try:
            if kind == wire.START:
                if utterance is not None:
                    utterance.abort()
                utterance = Utterance(decoder, live, batch)
                answer(wire.OK)
            elif kind == wire.FEED and utterance is not None:
                pcm = np.frombuffer(payload, dtype="<f4")
                answer(wire.HYPOTHESIS, utterance.feed(pcm).encode())
            elif kind == wire.FINISH and utterance is not None:
                text, utterance = utterance.finish(), None
                answer(wire.FINAL, text.encode())
            elif kind == wire.ABORT:
                if utterance is not None:
                    utterance.abort()
                utterance = None
                answer(wire.OK)
            else:
                answer(wire.ERROR, f"unexpected request {kind!r}".encode())
        except Exception as error:  # reported to the server, which decides; the worker lives on
            if utterance is not None:
                utterance.abort()
            utterance = None
            answer(wire.ERROR, f"{type(error).__name__}: {error}".encode())


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
