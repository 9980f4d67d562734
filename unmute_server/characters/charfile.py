"""One character file's bytes in, one character or its diagnostics out.

This is the pure core of loading: no file system access, so the pack loader, lint, the
property tests and the benchmarks all call the same function on bytes they already hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import FieldPath, Position, RawDocument
from unmute_server.characters.limits import DEFAULT_LIMITS, LoadLimits
from unmute_server.characters.model import Character
from unmute_server.characters.pyfile import read_python
from unmute_server.characters.tomlfile import read_toml
from unmute_server.characters.validate import validate_document

CHARACTER_SUFFIXES = (".py", ".toml")

#: The line ends both readers number lines by (``str.splitlines`` knows more).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

#: What ``bytes.strip`` strips: a file of only these (after a byte order mark) is empty.
_BLANK = " \t\n\r\x0b\x0c"


@dataclass(frozen=True, slots=True)
class CharacterFileResult:
    """``positions`` are the reader's (lazy) field positions when there is a character, for
    pack-level diagnostics about one of its fields (look-alike names); not part of equality.
    ``declared_name`` is the name a file that failed still states, when it could be read, so
    a pack can tell that a later file with the same name is a copy."""

    path: str
    character: Character | None
    diagnostics: tuple[Diagnostic, ...]
    positions: Mapping[FieldPath, Position] = field(default_factory=dict, compare=False, repr=False)
    declared_name: str | None = None


def _failed(path: str, code: str, message: str) -> CharacterFileResult:
    return CharacterFileResult(path, None, (Diagnostic(path, 0, 0, code, message),))


def _position_of_byte(data: bytes, index: int) -> tuple[int, int]:
    """Line and column of ``data[index]``, counted as the readers count them.

    Lines end at ``\r\n``, ``\r`` or ``\n`` (as Python's do; TOML allows no lone ``\r``),
    and columns count characters, not bytes. Everything before ``index`` decodes, because
    ``index`` is the first byte that does not.
    """
    before = data[:index].decode("utf-8")
    breaks = list(_LINE_BREAK.finditer(before))
    if not breaks:  # a byte order mark is not a column (the readers drop it)
        return 1, len(before.removeprefix("\ufeff")) + 1
    return len(breaks) + 1, len(before) - breaks[-1].end() + 1


def parse_character_file(
    path: str, data: bytes, limits: LoadLimits = DEFAULT_LIMITS
) -> CharacterFileResult:
    """Parse and validate one file; ``path`` (relative, for messages) picks the reader."""
    if len(data) > limits.max_file_bytes:
        return _failed(
            path, "CHR001", f"file is {len(data)} bytes; the limit is {limits.max_file_bytes}"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, col = _position_of_byte(data, error.start)
        message = f"byte 0x{data[error.start]:02x} is not UTF-8"
        return CharacterFileResult(
            path,
            None,
            (Diagnostic(path, line, col, "CHR002", message),),
        )
    text = text.removeprefix("\ufeff")
    if not text.strip(_BLANK):
        return _failed(path, "CHR007", "file is empty; a character file needs at least a name")
    document: RawDocument
    if path.endswith(".toml"):
        document = read_toml(path, text, limits)
    elif path.endswith(".py"):
        document = read_python(path, text, limits)
    else:
        raise ValueError(f"not a character file name: {path!r}")
    character, diagnostics = validate_document(document)
    if character is not None:
        return CharacterFileResult(path, character, diagnostics, document.positions)
    name = document.fields.get("name")
    declared = name if isinstance(name, str) and name else None
    return CharacterFileResult(path, None, diagnostics, {}, declared)
