"""The hand-off between a reader (Python or TOML) and validation.

A reader turns bytes into plain data plus where each piece came from; validation turns that
into a ``Character`` and maps any error back to a line and column through ``positions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from unmute_server.characters.diagnostics import Diagnostic

#: A path into the raw data, as pydantic reports error locations: ("instructions", "text").
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class RawDocument:
    """What one character file says, before validation.

    ``fields`` uses model field names (``name``, ``voice``...), whatever the file's own
    spelling. ``positions`` maps a field path to where its value (or key) starts; the empty
    path is the whole file. ``diagnostics`` are the reader's own findings; when any is an
    error, ``fields`` may be partial and must not be validated into a character.
    """

    path: str
    fields: Mapping[str, object]
    positions: Mapping[FieldPath, Position] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()

    def position_of(self, path: FieldPath) -> Position:
        """The position of ``path`` or of its nearest ancestor that has one."""
        return position_in(self.positions, path)


def position_in(positions: Mapping[FieldPath, Position], path: FieldPath) -> Position:
    """The position of ``path`` in ``positions`` or of its nearest ancestor that has one.

    Readers compute positions lazily (a TOML key scan costs more than the parse), so a
    caller asks only when it has something to report there.
    """
    for end in range(len(path), 0, -1):
        found = positions.get(path[:end])
        if found is not None:
            return found
    return positions.get((), Position(1, 1))
