"""The frames between the embedded speech-to-text and its worker processes.

A frame is one kind byte, a 4-byte big-endian length, and that many bytes. The server sends one
request and reads exactly one answer before the next, so a worker never needs to guess where a
message ends and a reply can never be read as another's. Kept apart from the worker so the server
side imports it without loading pocketsphinx.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Final

HEADER: Final = struct.Struct(">cI")

# Requests (server to worker).
#: Open an utterance; answered by OK.
START: Final = b"S"
#: Audio of the open utterance: float32 little-endian at 24 kHz; answered by HYPOTHESIS.
FEED: Final = b"F"
#: End the utterance; answered by FINAL.
FINISH: Final = b"E"
#: Drop the utterance, if any; answered by OK.
ABORT: Final = b"A"

# Answers (worker to server).
#: Sent once, when the model is loaded (or ERROR with the reason it could not be).
READY: Final = b"R"
OK: Final = b"K"
#: The partial hypothesis so far, UTF-8 (may be empty).
HYPOTHESIS: Final = b"H"
#: The final transcript, UTF-8.
FINAL: Final = b"T"
#: The request failed; UTF-8 reason. The worker has dropped the utterance and stays usable.
ERROR: Final = b"X"

#: The longest answer the server reads: a transcript is a few hundred bytes.
MAX_ANSWER_BYTES: Final = 1 << 20


def encode(kind: bytes, payload: bytes = b"") -> bytes:
    """One frame."""
    return HEADER.pack(kind, len(payload)) + payload


def read_frame(stream: BinaryIO) -> tuple[bytes, bytes] | None:
    """The next frame from a blocking stream, or ``None`` at its end (the server went away)."""
    header = _read_exactly(stream, HEADER.size)
    if header is None:
        return None
    kind, length = HEADER.unpack(header)
    payload = _read_exactly(stream, length)
    if payload is None:
        return None
    return kind, payload


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = stream.read(remaining)
        if not part:
            return None
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)
