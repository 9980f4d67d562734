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
class SourceSpan:
    """A value as the file writes it (quotes and escapes included) and where it starts, so a
    problem inside a long string (a placeholder) can be pointed at exactly."""

    start: Position
    text: str


@dataclass(frozen=True, slots=True)
class RawDocument:
    """What one character file says, before validation.

    ``fields`` uses model field names (``name``, ``voice``...), whatever the file's own
    spelling. ``positions`` maps a field path to where its value (or key) starts; the empty
    path is the whole file. ``diagnostics`` are the reader's own findings; when any is an
    error, ``fields`` holds only what was read cleanly: validation still checks it (so one
    run reports every problem) but makes no character. ``unread`` names the fields the file
    gives but the reader could not read, so they are not also reported missing. ``sources``
    maps a scalar value's path to its text in the file, looked up only to place a problem
    found inside the value.
    """

    path: str
    fields: Mapping[str, object]
    positions: Mapping[FieldPath, Position] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()
    unread: frozenset[str] = frozenset()
    sources: Mapping[FieldPath, SourceSpan] = field(default_factory=dict)

    @property
    def is_python(self) -> bool:
        """Whether messages should spell fields as the restricted Python form does."""
        return self.path.endswith(".py")

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
