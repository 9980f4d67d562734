"""Character -> TOML text: what ``unmute-server convert`` writes as a sidecar.

The text must read back (``read_toml`` + validation) to an equal ``Character``, so anything
TOML cannot say exactly is refused here rather than silently changed: TOML has no null, and
``tomli-w``'s multi-line strings normalise ``\\r\\n`` to ``\\n``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

import tomli_w

from unmute_server.characters.document import FieldPath
from unmute_server.characters.model import Character

#: One-line strings longer than this are wrapped to lines of about this many characters.
WRAP_WIDTH = 88

#: A string that ``tomli-w`` would write on one line (no line break of any kind).
_ONE_LINE = re.compile(r"[^\n\r]*")
#: Where a wrapped line may end: after a space, before a character that is not whitespace.
_BREAK = re.compile(r"(?<= )(?=[^ \t])")


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
    return fields_to_toml(character.model_dump(mode="json", exclude_none=True), schema_comment)


def fields_to_toml(data: dict[str, Any], schema_comment: str | None = None) -> str:
    """:func:`character_to_toml` for a character's dumped fields, some of which may be left
    out (``convert`` writes what it could read of a file that needs a decision)."""
    multiline = True
    for path, value in _leaves(data):
        if value is None:
            where = ".".join(str(part) for part in path)
            raise TomlWriteError(path, f"'{where}' is None, and TOML has no null value")
        if isinstance(value, str) and "\r\n" in value:
            multiline = False
    data, wrapped = _wrap_long_strings(data)
    text = tomli_w.dumps(data, multiline_strings=multiline)
    for placeholder, replacement in wrapped.items():
        quoted = f'"{placeholder}"'
        if text.count(quoted) != 1:  # cannot happen: the placeholder is a fresh random token
            raise AssertionError("placeholder for a wrapped string was not written once")
        text = text.replace(quoted, replacement)
    if schema_comment is not None:
        if "\n" in schema_comment or "\r" in schema_comment:
            raise ValueError("a schema reference must be one line")
        text = f"#:schema {schema_comment}\n{text}"
    return text


def _wrap_long_strings(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Swap each long one-line string value of a table for a placeholder and its wrapped form.

    ``tomli-w`` writes a 400-character prompt as one 400-character line; an author editing the
    sidecar wants it wrapped. TOML's line-ending backslash allows that without changing the
    value, so the string is written by :func:`_wrapped` and put where its placeholder is.
    """
    token = secrets.token_hex(8)
    wrapped: dict[str, str] = {}

    def visit(table: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in table.items():
            if isinstance(value, dict):
                result[key] = visit(value)
            elif isinstance(value, str) and len(value) > WRAP_WIDTH and _ONE_LINE.fullmatch(value):
                placeholder = f"unmute-wrapped-{token}-{len(wrapped)}"
                wrapped[placeholder] = _wrapped(value)
                result[key] = placeholder
            else:
                result[key] = value
        return result

    return visit(data), wrapped


def _wrapped(value: str) -> str:
    """``value`` as a multi-line basic string, broken after spaces with line-ending backslashes.

    The escaped body is the one ``tomli-w`` writes for a one-line string, so every character
    is escaped exactly as there. A line ending in a backslash drops the line break and the
    whitespace that starts the next line, so breaks go only after a space and before a
    character that is not whitespace, and the spaces stay part of the value.
    """
    body = tomli_w.dumps({"k": value}).removeprefix('k = "').removesuffix('"\n')
    words = _BREAK.split(body)
    lines: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + len(word) > WRAP_WIDTH:
            lines.append(current)
            current = ""
        current += word
    lines.append(current)
    return '"""\n' + "\\\n".join(lines) + '"""'


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
