"""The MessagePack messages of Kyutai's moshi-server, as plain values.

Shared by the STT and TTS adapters, and by nothing that knows a socket: bytes in, typed messages
out, and the reverse. Every message is a map with a ``type`` key (serde's internally tagged
enums on the Rust side; kyutai-labs/unmute reads and writes the same shapes).

Audio is most of the traffic, so its two directions have fast paths measured against
``msgpack``: :func:`encode_audio` writes the exact bytes that ``msgpack.packb`` writes with
``use_single_float=True``, twenty times faster; :func:`parse_tts_message` reads a server's
``Audio`` message with one numpy view when it has the layout moshi-server writes (float32
elements after ``type``), and through ``msgpack`` otherwise. Both are pinned against ``msgpack``
in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgpack
import numpy as np

from unmute_server.voice.audio import Pcm

#: Samples per ``Audio`` frame the STT server expects: 80 ms at 24 kHz.
FRAME_SAMPLES: Final = 1920


class WireError(ValueError):
    """The bytes are not a message this protocol has (not MessagePack, not a map, a bad field)."""


# --------------------------------------------------------------------------- server messages


@dataclass(frozen=True, slots=True)
class Ready:
    """The server has a slot for this connection; messages before it may be stale."""


@dataclass(frozen=True, slots=True)
class ServerError:
    """The server refused or failed (at capacity, bad voice, internal error)."""

    message: str


@dataclass(frozen=True, slots=True)
class Word:
    """STT: a word was recognised; ``start_time`` is seconds into the stream."""

    text: str
    start_time: float


@dataclass(frozen=True, slots=True)
class EndWord:
    """STT: the last word ended at ``stop_time``."""

    stop_time: float


@dataclass(frozen=True, slots=True)
class Step:
    """STT: one 80 ms frame went through the model.

    ``prs`` are the semantic VAD's pause predictions, one per horizon; kyutai-labs/unmute reads
    index 2 as "the person has finished their turn". ``buffered_pcm`` is how many samples the
    server holds that it has not processed yet (0 on servers that do not report it).
    """

    step_idx: int
    prs: tuple[float, ...]
    buffered_pcm: int


@dataclass(frozen=True, slots=True)
class Marker:
    """STT: everything sent before the client's marker ``id`` has been processed."""

    id: int


@dataclass(frozen=True, slots=True)
class TextAlignment:
    """TTS: a word of the text is spoken from ``start_s`` to ``stop_s`` (seconds of audio)."""

    text: str
    start_s: float
    stop_s: float


@dataclass(frozen=True, slots=True)
class Audio:
    """TTS: the next samples of speech (mono float32, 24 kHz)."""

    pcm: Pcm


@dataclass(frozen=True, slots=True)
class Unknown:
    """A well-formed message of a type this adapter does not use (newer servers add some)."""

    type: str


SttMessage = Ready | ServerError | Word | EndWord | Step | Marker | Unknown
TtsMessage = Ready | ServerError | TextAlignment | Audio | Unknown


def parse_stt_message(data: bytes) -> SttMessage:
    """Read one message from the speech-to-text server. Raises :class:`WireError`."""
    message = _unpack_map(data)
    kind = message["type"]
    if kind == "Word":
        return Word(_str(message, "text"), _float(message, "start_time"))
    if kind == "EndWord":
        return EndWord(_float(message, "stop_time"))
    if kind == "Step":
        prs = message.get("prs")
        if not isinstance(prs, list) or not all(_is_number(value) for value in prs):
            raise WireError("Step.prs is not a list of numbers")
        buffered = message.get("buffered_pcm", 0)
        return Step(
            _int(message, "step_idx"),
            tuple(float(value) for value in prs),
            buffered if isinstance(buffered, int) and not isinstance(buffered, bool) else 0,
        )
    if kind == "Marker":
        return Marker(_int(message, "id"))
    return _common(kind, message)


def parse_tts_message(data: bytes) -> TtsMessage:
    """Read one message from the text-to-speech server. Raises :class:`WireError`."""
    pcm = _fast_audio(data)
    if pcm is not None:
        return Audio(pcm)
    message = _unpack_map(data)
    kind = message["type"]
    if kind == "Audio":
        samples = message.get("pcm")
        if not isinstance(samples, list) or not all(_is_number(value) for value in samples):
            raise WireError("Audio.pcm is not a list of numbers")
        return Audio(np.asarray(samples, dtype=np.float32))
    if kind == "Text":
        return TextAlignment(
            _str(message, "text"), _float(message, "start_s"), _float(message, "stop_s")
        )
    return _common(kind, message)


def _common(kind: str, message: Mapping[str, Any]) -> Ready | ServerError | Unknown:
    if kind == "Ready":
        return Ready()
    if kind == "Error":
        return ServerError(_str(message, "message"))
    return Unknown(kind)


def _unpack_map(data: bytes) -> Mapping[str, Any]:
    try:
        message = msgpack.unpackb(data, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        # ExtraData, FormatError, StackError and bad UTF-8 are ValueErrors; unhashable keys are
        # TypeErrors; UnpackException is msgpack's own base for the rest.
        raise WireError("not a MessagePack message") from error
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise WireError("not a map with a string 'type'")
    return message


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _float(message: Mapping[str, Any], key: str) -> float:
    value = message.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise WireError(f"{message['type']}.{key} is not a number")
    return float(value)


def _int(message: Mapping[str, Any], key: str) -> int:
    value = message.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"{message['type']}.{key} is not an integer")
    return value


def _str(message: Mapping[str, Any], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str):
        raise WireError(f"{message['type']}.{key} is not a string")
    return value


# --------------------------------------------------------------------------- audio fast paths

#: ``{"type": "Audio", "pcm": `` as msgpack writes it: a 2-entry map, then fixstr keys and value.
_AUDIO_PREFIX: Final = b"\x82\xa4type\xa5Audio\xa3pcm"
#: One msgpack float32 element: the 0xca marker, then the value big-endian.
_FLOAT32_ELEMENT: Final = np.dtype([("marker", "u1"), ("value", ">f4")])
_FLOAT32_MARKER: Final = 0xCA
_FLOAT32_MARKER_BYTE: Final = bytes([_FLOAT32_MARKER])
_FRAME_MARKERS: Final = _FLOAT32_MARKER_BYTE * FRAME_SAMPLES


def _array_header(length: int) -> bytes:
    if length < 16:
        return bytes([0x90 | length])
    if length < 1 << 16:
        return b"\xdc" + length.to_bytes(2, "big")
    return b"\xdd" + length.to_bytes(4, "big")


def encode_audio(pcm: Pcm) -> bytes:
    """``{"type": "Audio", "pcm": [...]}`` with float32 elements, as the STT server reads it."""
    elements = np.empty(len(pcm), dtype=_FLOAT32_ELEMENT)
    elements["marker"] = _FLOAT32_MARKER
    elements["value"] = pcm
    return _AUDIO_PREFIX + _array_header(len(pcm)) + elements.tobytes()


class AudioFrameEncoder:
    """:func:`encode_audio` for frames of one size, twice as fast: the STT sends 12.5 a second.

    The map's keys, the array header and every element's marker are written once, into a buffer
    this encoder owns; each frame only writes its samples there and copies the buffer out, so
    the bytes returned never change afterwards. One encoder per connection (it is not shared
    between threads).
    """

    __slots__ = ("_buffer", "_values", "samples")

    def __init__(self, samples: int) -> None:
        self.samples = samples
        head = _AUDIO_PREFIX + _array_header(samples)
        self._buffer = bytearray(len(head) + samples * _FLOAT32_ELEMENT.itemsize)
        self._buffer[: len(head)] = head
        elements = np.frombuffer(self._buffer, dtype=_FLOAT32_ELEMENT, offset=len(head))
        elements["marker"] = _FLOAT32_MARKER
        self._values = elements["value"]

    def encode(self, pcm: Pcm) -> bytes:
        """The ``Audio`` message of ``pcm``, which must have the encoder's number of samples."""
        if len(pcm) != self.samples:
            raise ValueError(f"{len(pcm)} samples, not the encoder's {self.samples}")
        self._values[...] = pcm
        return bytes(self._buffer)


def _fast_audio(data: bytes) -> Pcm | None:
    """The samples of an ``Audio`` message in moshi-server's own layout, else None."""
    if not data.startswith(_AUDIO_PREFIX):
        return None
    offset = len(_AUDIO_PREFIX)
    if len(data) <= offset:
        return None
    marker = data[offset]
    if 0x90 <= marker <= 0x9F:
        length, offset = marker & 0x0F, offset + 1
    elif marker == 0xDC and len(data) >= offset + 3:
        length, offset = int.from_bytes(data[offset + 1 : offset + 3], "big"), offset + 3
    elif marker == 0xDD and len(data) >= offset + 5:
        length, offset = int.from_bytes(data[offset + 1 : offset + 5], "big"), offset + 5
    else:
        return None
    if len(data) != offset + length * _FLOAT32_ELEMENT.itemsize:
        return None
    # Every element's marker byte, compared as bytes: four times cheaper than through numpy.
    markers = _FRAME_MARKERS if length == FRAME_SAMPLES else _FLOAT32_MARKER_BYTE * length
    if data[offset :: _FLOAT32_ELEMENT.itemsize] != markers:
        return None
    elements = np.frombuffer(data, dtype=_FLOAT32_ELEMENT, offset=offset)
    return elements["value"].astype(np.float32)


# --------------------------------------------------------------------------- client messages


def encode_marker(marker_id: int) -> bytes:
    """STT: ask the server to echo ``marker_id`` once everything before it is processed."""
    return bytes(msgpack.packb({"type": "Marker", "id": marker_id}))


def encode_text(text: str) -> bytes:
    """TTS: the next word to speak."""
    return bytes(msgpack.packb({"type": "Text", "text": text}))


def encode_eos() -> bytes:
    """TTS: no more text; the server finishes speaking and closes the connection."""
    return bytes(msgpack.packb({"type": "Eos"}))
