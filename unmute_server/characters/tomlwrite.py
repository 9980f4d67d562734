"""Character -> TOML text: what ``unmute-server convert`` writes as a sidecar.

The text must read back (``read_toml`` + validation) to an equal ``Character``, so anything
TOML cannot say exactly is refused here rather than silently changed: TOML has no null, and
``tomli-w``'s multi-line strings normalise ``\\r\\n`` to ``\\n``.
"""

from __future__ import annotations

from collections.abc import Mapping

import tomli_w

from unmute_server.characters.document import FieldPath
from unmute_server.characters.model import Character


class TomlWriteError(ValueError):
    """A character holds a value TOML cannot represent; ``path`` names where."""

    def __init__(self, path: FieldPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def character_to_toml(character: Character, schema_comment: str | None = None) -> str:
    """The TOML form of ``character``, fields in model order (name, good, comment, tables).

    ``schema_comment`` is the schema's path or URL; when given, the text starts with the
    ``#:schema`` directive that Taplo / Even Better TOML use to check and complete the file.
    Texts with line breaks are written as multi-line strings, unless some string holds a
    ``\\r\\n`` that the multi-line form would lose. Raises :class:`TomlWriteError` for a
    ``None`` inside a mapping (``sound_instance``), which TOML cannot express.
    """
    data = character.model_dump(mode="json", exclude_none=True)
    multiline = True
    for path, value in _leaves(data):
        if value is None:
            where = ".".join(str(part) for part in path)
            raise TomlWriteError(path, f"'{where}' is None, and TOML has no null value")
        if isinstance(value, str) and "\r\n" in value:
            multiline = False
    text = tomli_w.dumps(data, multiline_strings=multiline)
    if schema_comment is not None:
        if "\n" in schema_comment or "\r" in schema_comment:
            raise ValueError("a schema reference must be one line")
        text = f"#:schema {schema_comment}\n{text}"
    return text


def _leaves(data: Mapping[str, object]) -> list[tuple[FieldPath, object]]:
    """Every non-container value with its path (iteratively; a character is shallow anyway)."""
    found: list[tuple[FieldPath, object]] = []
    stack: list[tuple[FieldPath, object]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend(((*path, key), item) for key, item in value.items())
        elif isinstance(value, list | tuple):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
        else:
            found.append((path, value))
    return found
