"""Server-sent events, cut out of the bytes of an HTTP body as they arrive.

An OpenAI-compatible server streams a chat completion as `text/event-stream`: `data:` lines, a
blank line ending each event. Reads of the body cut it anywhere, between the `\\r` and the `\\n`
of a line end included, so the decoder keeps what it has not finished and is fed read by read.
It follows the standard's line and field rules (https://html.spec.whatwg.org/multipage/
server-sent-events.html#event-stream-interpretation) for the one field a chat stream uses: the
data of an event is its `data:` lines joined by line feeds; comments, other fields and events
with empty data are skipped, and an event the body ends in the middle of is dropped. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Final

#: CRLF, a lone CR or a lone LF: each ends a line.
_LINE_END: Final = re.compile(rb"\r\n?|\n")

#: The most bytes one event may hold while it is incomplete. A chat chunk is usually a few
#: hundred bytes, but one delta may carry megabytes (the outbox lets a 5 MB delta through to a
#: client; 16 MiB is its default limit); a body that never ends its line (a download at the
#: wrong URL) must still not grow without bound.
MAX_EVENT_BYTES: Final = 16 << 20


class EventTooLong(ValueError):
    """An event grew past `MAX_EVENT_BYTES` before it ended."""


class EventDataDecoder:
    """Turns the reads of one event-stream body into the data of its events, in order."""

    __slots__ = ("_data", "_data_size", "_partial_line", "_partial_size", "_skip_lf")

    def __init__(self) -> None:
        # The unfinished last line, in the pieces it arrived in: joined once, when it ends, so a
        # line trickling in byte by byte costs no more than one arriving whole.
        self._partial_line: list[bytes] = []
        self._partial_size = 0
        self._data: list[bytes] = []
        self._data_size = 0
        # The previous read ended on a CR: a LF at the start of this one belongs to that line end.
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """Return the data of every event that `chunk` completes (often none, sometimes several).

        Raises `EventTooLong` when the event being read grows past `MAX_EVENT_BYTES`.
        """
        if self._skip_lf:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        partial = self._partial_line
        if b"\n" not in chunk and b"\r" not in chunk:
            partial.append(chunk)
            self._partial_size += len(chunk)
            self._check_size()
            return []
        if partial:
            partial.append(chunk)
            text = b"".join(partial)
            partial.clear()
        else:
            text = chunk
        if b"\r" in text:
            lines = _LINE_END.split(text)
            self._skip_lf = text.endswith(b"\r")
        else:
            lines = text.split(b"\n")
        last = lines.pop()
        if last:
            partial.append(last)
        self._partial_size = len(last)
        events: list[bytes] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    joined = data[0] if len(data) == 1 else b"\n".join(data)
                    data.clear()
                    self._data_size = 0
                    if joined:
                        events.append(joined)
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
                self._data_size += len(line)
            elif line == b"data":
                data.append(b"")
            # Anything else is a comment (`:`) or a field a chat stream has no use for.
        self._check_size()
        return events

    def _check_size(self) -> None:
        if self._data_size + self._partial_size > MAX_EVENT_BYTES:
            raise EventTooLong(f"an event grew past {MAX_EVENT_BYTES} bytes")
