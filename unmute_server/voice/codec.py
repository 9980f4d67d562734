"""Clients' audio formats in and out: Ogg Opus and PCM16, both 24 kHz mono.

kyutai-labs/unmute's frontend sends Ogg Opus pages and never says so; OpenAI clients send PCM16
little-endian by default. A session that names no format is told apart by its first bytes (an
Ogg stream starts with ``OggS``). Decoders keep what a chunk leaves unfinished (half an Ogg
page, an odd byte of PCM16) for the next one, because clients cut their appends wherever their
recorder's buffer happened to end.

These are plain, synchronous objects: the pipeline calls them from a worker thread, never on
the event loop.
"""

from __future__ import annotations

import enum
from typing import Final, Protocol

import numpy as np
import sphn

from unmute_server.voice.audio import SAMPLE_RATE, Pcm

#: How every Ogg page starts; the first bytes of an Ogg Opus stream.
OGG_MAGIC: Final = b"OggS"

#: An Ogg page is at most 65,307 bytes: this much without a sample decoded is not a stream
#: whose page is still arriving, but bytes that only look like the start of one.
MAX_OGG_WAIT_BYTES: Final = 70_000

#: Samples per Opus frame the encoder is given: 80 ms at 24 kHz, as kyutai-labs/unmute sends.
OPUS_FRAME_SAMPLES: Final = 1920


class AudioFormat(enum.StrEnum):
    """The formats a session may send and receive (values as the protocol names them)."""

    PCM16 = "pcm16"
    OGG_OPUS = "ogg_opus"


class InvalidAudioError(ValueError):
    """Bytes that are not audio in the session's format; ``message`` is safe to send.

    ``salvaged`` is the audio recovered from the same chunk after the bad bytes (a new stream
    that starts in it), so reporting the problem loses nothing that could be heard.
    """

    def __init__(self, message: str, salvaged: Pcm | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.salvaged: Pcm = salvaged if salvaged is not None else np.zeros(0, np.float32)


def detect_format(first_bytes: bytes) -> AudioFormat:
    """The format of a stream that did not name one: Ogg if it starts like Ogg, else PCM16."""
    return AudioFormat.OGG_OPUS if first_bytes.startswith(OGG_MAGIC) else AudioFormat.PCM16


class Decoder(Protocol):
    """Turns a client's appended bytes into :data:`Pcm`, chunk after chunk."""

    def decode(self, data: bytes) -> Pcm:
        """The samples ``data`` completes (possibly none); raises :class:`InvalidAudioError`."""
        ...


class Encoder(Protocol):
    """Turns :data:`Pcm` into the bytes a session receives, chunk after chunk."""

    def encode(self, pcm: Pcm) -> bytes:
        """The bytes ready to send for ``pcm`` (possibly none until a frame is full)."""
        ...

    def flush(self) -> bytes:
        """Whatever is held back, padded to a whole frame: the end of one answer's audio."""
        ...


class Pcm16Decoder:
    """PCM16 little-endian mono; an odd trailing byte waits for the next chunk."""

    __slots__ = ("_odd",)

    def __init__(self) -> None:
        self._odd = b""

    def decode(self, data: bytes) -> Pcm:
        if self._odd:
            data = self._odd + data
        whole = len(data) - len(data) % 2
        self._odd = data[whole:]
        samples = np.frombuffer(data[:whole], dtype="<i2")
        return (samples.astype(np.float32) / 32768.0).astype(np.float32, copy=False)


class OggOpusDecoder:
    """An Ogg Opus stream at any Opus rate, decoded to 24 kHz.

    ``sphn``'s reader keeps what a chunk leaves of a page for the next one. One bad chunk leaves
    that reader broken for good, so after an error a fresh reader takes over and is given the
    chunk from its first ``OggS`` on: a client that restarts its recorder (a new stream, header
    pages first) is heard again at once, even when its new stream follows garbage or half a page
    in the same append.
    """

    __slots__ = ("_reader", "_waiting")

    def __init__(self) -> None:
        self._reader = sphn.OpusStreamReader(SAMPLE_RATE)
        self._waiting = 0

    def decode(self, data: bytes) -> Pcm:
        try:
            pcm = _mono_float32(self._reader.append_bytes(data))
        except ValueError as error:
            problem = f"the audio is not a valid Ogg Opus stream ({error})"
        else:
            self._waiting = 0 if len(pcm) else self._waiting + len(data)
            if self._waiting <= MAX_OGG_WAIT_BYTES:
                return pcm
            problem = (
                f"no audio came out of {self._waiting} bytes: "
                "the audio is not a valid Ogg Opus stream"
            )
        self._waiting = 0
        salvaged = self._resync(data)
        raise InvalidAudioError(problem, salvaged)

    def _resync(self, data: bytes) -> Pcm:
        """A fresh reader, fed ``data`` from the first place a new stream can start."""
        start = data.find(OGG_MAGIC)
        while True:
            self._reader = sphn.OpusStreamReader(SAMPLE_RATE)
            if start < 0:
                return np.zeros(0, np.float32)
            try:
                return _mono_float32(self._reader.append_bytes(data[start:]))
            except ValueError:
                start = data.find(OGG_MAGIC, start + 1)


class Pcm16Encoder:
    """PCM16 little-endian mono; every sample goes out at once."""

    __slots__ = ()

    def encode(self, pcm: Pcm) -> bytes:
        clipped = np.clip(pcm, -1.0, 1.0)
        return bytes((clipped * 32767.0).astype("<i2").tobytes())

    def flush(self) -> bytes:
        return b""


class OggOpusEncoder:
    """One Ogg Opus stream per encoder, in frames of :data:`OPUS_FRAME_SAMPLES`.

    A fresh encoder per answer, so every answer is a complete stream a player can start on (the
    first bytes carry the Opus header pages).
    """

    __slots__ = ("_held", "_writer")

    def __init__(self) -> None:
        self._writer = sphn.OpusStreamWriter(SAMPLE_RATE)
        self._held: Pcm = np.zeros(0, dtype=np.float32)

    def encode(self, pcm: Pcm) -> bytes:
        held = np.concatenate((self._held, pcm)) if len(self._held) else pcm
        whole = len(held) - len(held) % OPUS_FRAME_SAMPLES
        out = [
            bytes(self._writer.append_pcm(held[start : start + OPUS_FRAME_SAMPLES]))
            for start in range(0, whole, OPUS_FRAME_SAMPLES)
        ]
        self._held = np.ascontiguousarray(held[whole:], dtype=np.float32)
        return b"".join(out)

    def flush(self) -> bytes:
        if not len(self._held):
            return b""
        padding = np.zeros(OPUS_FRAME_SAMPLES - len(self._held), dtype=np.float32)
        return self.encode(padding)


def decoder_for(audio_format: AudioFormat) -> Decoder:
    """A fresh decoder for one session's input stream."""
    if audio_format is AudioFormat.OGG_OPUS:
        return OggOpusDecoder()
    return Pcm16Decoder()


def encoder_for(audio_format: AudioFormat) -> Encoder:
    """A fresh encoder for one answer's audio."""
    if audio_format is AudioFormat.OGG_OPUS:
        return OggOpusEncoder()
    return Pcm16Encoder()


def resample(pcm: Pcm, source_rate: int, target_rate: int) -> Pcm:
    """``pcm`` at ``target_rate``. ``sphn``'s resampler may be a few samples off in length;
    callers that need an exact count (frame-based VAD) keep the remainder themselves."""
    if source_rate == target_rate or not len(pcm):
        return pcm
    return _mono_float32(sphn.resample(np.ascontiguousarray(pcm), source_rate, target_rate))


def _mono_float32(pcm: object) -> Pcm:
    """A decoder's output as one dimension of float32 (``sphn`` gives channels first)."""
    array = np.asarray(pcm, dtype=np.float32)
    if array.ndim == 2:
        array = array[0] if array.shape[0] == 1 else array.mean(axis=0, dtype=np.float32)
    return np.ascontiguousarray(array, dtype=np.float32)
