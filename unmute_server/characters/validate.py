"""Turn a reader's ``RawDocument`` into a ``Character`` or positioned diagnostics.

Pydantic does the validating; this module only translates its error locations back into the
file's lines and columns and picks the stable code for each kind of error.
"""

from __future__ import annotations

import difflib
import re
import typing

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from unmute_server.characters.confusables import mixed_script_warning
from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import FieldPath, Position, RawDocument, SourceSpan
from unmute_server.characters.model import (
    VOICE_PATH_FIX,
    Character,
    CharacterVoices,
    Instructions,
    VoiceSource,
    field_to_python_name,
    python_name_to_field,
)
from unmute_server.characters.voices import (
    EMBEDDED_VOICE_FIX,
    OPENAI_VOICE_FIX,
    unknown_voice_warnings,
)

#: The line ends both readers number lines by.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _members_by_tag(union: object, tag_field: str) -> dict[str, type[BaseModel]]:
    inner = typing.get_args(union)[0]  # Annotated[X | Y, Field(...)] -> X | Y
    members: dict[str, type[BaseModel]] = {}
    for member in typing.get_args(inner):
        (tag,) = typing.get_args(member.model_fields[tag_field].annotation)
        members[tag] = member
    return members


#: The union members behind each tagged field, so an error inside ``instructions`` can name
#: the fields its ``type`` allows.
_TAGGED_FIELDS: dict[str, dict[str, type[BaseModel]]] = {
    "voice": _members_by_tag(VoiceSource, "source_type"),
    "instructions": _members_by_tag(Instructions, "type"),
}

#: The model behind each untagged table field, so an unknown key in it can be named.
_TABLE_FIELDS: dict[str, type[BaseModel]] = {"voices": CharacterVoices}


def validate_document(document: RawDocument) -> tuple[Character | None, tuple[Diagnostic, ...]]:
    """Validate ``document``; a reader error means no character, whatever the fields say.

    The fields a reader did read are validated even then, so an author sees every problem of
    a file in one run (a misspelt field does not hide a wrong type); a field the reader could
    not read is not also reported missing.
    """
    reader_failed = any(diagnostic.is_error for diagnostic in document.diagnostics)
    if reader_failed and not document.fields:
        return None, document.diagnostics
    try:
        character = Character.model_validate(dict(document.fields))
    except ValidationError as error:
        found = [
            diagnostic
            for detail in error.errors()
            if not _unread(document, detail)
            for diagnostic in _diagnostics(document, detail)
        ]
        return None, _in_file_order(document.diagnostics, found, reader_failed)
    if reader_failed:
        return None, document.diagnostics
    warnings = []
    mixed = mixed_script_warning(document, character.name)
    if mixed is not None:
        warnings.append(mixed)
    if character.voices is not None:
        voices = character.voices
        warnings += unknown_voice_warnings(document, voices.embedded, voices.openai)
    return character, (*document.diagnostics, *warnings) if warnings else document.diagnostics


def _unread(document: RawDocument, detail: ErrorDetails) -> bool:
    """A ``missing`` error for a field the reader already reported it could not read."""
    loc = detail["loc"]
    return detail["type"] == "missing" and len(loc) == 1 and loc[0] in document.unread


def _in_file_order(
    reader: tuple[Diagnostic, ...], found: list[Diagnostic], merge: bool
) -> tuple[Diagnostic, ...]:
    """Reader and validation findings together; sorted by place when both have some."""
    if not merge:
        return (*reader, *found)
    return tuple(sorted((*reader, *found), key=lambda found: (found.line, found.col)))


def _data_path(loc: tuple[int | str, ...]) -> FieldPath:
    """Drop the union tag pydantic inserts: ("instructions", "constant", "text") -> data path."""
    if len(loc) > 1 and loc[0] in _TAGGED_FIELDS and loc[1] in _TAGGED_FIELDS[str(loc[0])]:
        return (loc[0], *loc[2:])
    return tuple(loc)


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    parent = loc[:-1]
    if not parent:
        return list(Character.model_fields)
    if len(parent) == 1 and parent[0] in _TABLE_FIELDS:
        return list(_TABLE_FIELDS[str(parent[0])].model_fields)
    if len(parent) == 2 and parent[0] in _TAGGED_FIELDS:
        member = _TAGGED_FIELDS[str(parent[0])].get(str(parent[1]))
        if member is not None:
            return list(member.model_fields)
    return []


def _suggestion(key: str, allowed: list[str]) -> str | None:
    """The allowed key ``key`` most likely meant.

    Authors porting a Python file write ``CHARACTER_NAME`` or ``VOICE_SOURCE`` in TOML, and
    typos come in any case, so the Python spelling is mapped first and matching ignores case.
    """
    mapped = python_name_to_field(key.upper())
    if mapped in allowed:
        return mapped
    close = difflib.get_close_matches(key.lower(), allowed, n=1)
    return close[0] if close else None


def _dotted(path: FieldPath) -> str:
    return ".".join(str(part) for part in path) or "file"


def _named(document: RawDocument, path: FieldPath) -> str:
    """A field as the file spells it: ``'instructions.text'`` in TOML,
    ``INSTRUCTIONS['text']`` (in backticks) in restricted Python."""
    if not document.is_python:
        return f"'{_dotted(path)}'"
    if not path:
        return "the file"
    head, *rest = path
    return "`" + field_to_python_name(str(head)) + "".join(f"[{part!r}]" for part in rest) + "`"


def _table_hint(document: RawDocument, path: FieldPath) -> str:
    """How to write a table field that was given something else (``voice = "x.wav"``)."""
    head = str(path[0])
    if document.is_python:
        example = _PYTHON_TABLE_EXAMPLES.get(head, "{...}")
        return f"{_named(document, path)} is a dict: `{example}`"
    keys = _TABLE_KEYS.get(head)
    with_keys = f" with {keys}" if keys else ""
    return f"{_named(document, path)} is a table: `[{_dotted(path)}]`{with_keys}"


#: The keys a table field needs, for the message when it is given a plain value.
_TABLE_KEYS: dict[str, str] = {
    "voice": "`source_type` and `path_on_server`",
    "instructions": "`type` and the fields that type takes",
    "voices": "`embedded` or `openai`",
}

_PYTHON_TABLE_EXAMPLES: dict[str, str] = {
    "voice": '{"source_type": "file", "path_on_server": ...}',
    "instructions": '{"type": ..., ...}',
    "voices": '{"embedded": ..., "openai": ...}',
}


def _diagnostics(document: RawDocument, detail: ErrorDetails) -> list[Diagnostic]:
    """One diagnostic per problem: one error detail may hold several (placeholders)."""
    if detail["type"] != "template_placeholders":
        return [_diagnostic(document, detail)]
    path = _data_path(detail["loc"])
    problems: list[tuple[str, str]] = detail.get("ctx", {}).get("problems", [])
    span = document.sources.get(path)
    fallback = document.position_of(path)
    found = []
    cursor = 0
    for token, message in problems:
        position = fallback
        if span is not None and token:
            index = _placeholder_index(span.text, token, cursor)
            if index >= 0:
                cursor = index + len(token)
                position = _position_inside(span, index)
        where = _named(document, path)
        found.append(
            Diagnostic(document.path, position.line, position.col, "CHR302", f"{where}: {message}")
        )
    return found


def _placeholder_index(raw: str, token: str, start: int) -> int:
    """Where ``token`` (``{name``) starts in ``raw`` from ``start``, passing over any that
    follows an odd run of ``{`` (a literal ``{{name}}``)."""
    index = raw.find(token, start)
    while index >= 0:
        run = len(raw[:index]) - len(raw[:index].rstrip("{"))
        if run % 2 == 0:
            return index
        index = raw.find(token, index + 1)
    return -1


def _position_inside(span: SourceSpan, index: int) -> Position:
    """The line and column of ``span.text[index]`` in the file."""
    breaks = list(_LINE_BREAK.finditer(span.text, 0, index))
    if not breaks:
        return Position(span.start.line, span.start.col + index)
    return Position(span.start.line + len(breaks), index - breaks[-1].end() + 1)


def _diagnostic(document: RawDocument, detail: ErrorDetails) -> Diagnostic:
    loc = detail["loc"]
    path = _data_path(loc)
    position = document.position_of(path)
    kind = detail["type"]
    where = _named(document, path)
    python = document.is_python
    if kind == "missing":
        code, message = "CHR300", f"missing required field {where}"
    elif kind == "extra_forbidden":
        code = "CHR303"
        allowed = _allowed_keys(loc)
        hint = _suggestion(str(loc[-1]), allowed)
        message = f"unknown {'key' if python else 'field'} {where}"
        message += f"; did you mean '{hint}'?" if hint else f"; allowed: {', '.join(allowed)}"
    elif kind == "union_tag_invalid":
        context = detail.get("ctx", {})
        tag_field = str(context.get("discriminator", "type")).strip("'")
        position = document.position_of((*path, tag_field))
        code = "CHR301"
        tag = context.get("tag")
        expected = str(context.get("expected_tags"))
        message = f"{_named(document, (*path, tag_field))} is {tag!r}; expected one of {expected}"
        close = difflib.get_close_matches(str(tag), [t.strip(" '") for t in expected.split(",")])
        if close:
            message += f"; did you mean {close[0]!r}?"
    elif kind == "union_tag_not_found":
        context = detail.get("ctx", {})
        code = "CHR300"
        message = f"{where} needs a {context.get('discriminator', 'tag')} field"
    elif kind == "model_attributes_type" or (kind == "dict_type" and len(path) == 1):
        code, message = "CHR301", f"{_table_hint(document, path)}, not {_shown(detail)}"
    elif kind == "bool_type":
        words = "True or False" if python else "true or false"
        code, message = "CHR301", f"{where} must be {words}, not {_shown(detail)}"
    elif kind == "voice_path":
        code, message = "CHR304", f"{where} {detail['msg']}; {VOICE_PATH_FIX}"
    elif kind == "embedded_voice":
        code, message = "CHR306", f"{where} {detail['msg']}; {EMBEDDED_VOICE_FIX}"
    elif kind == "openai_voice":
        code, message = "CHR306", f"{where} {detail['msg']}; {OPENAI_VOICE_FIX}"
    elif kind in ("language_code", "persona"):
        code, message = "CHR301", f"{where}: {detail['msg']}"
    else:
        code = "CHR301"
        message = f"{where}: {detail['msg'].removeprefix('Value error, ')}"
    return Diagnostic(document.path, position.line, position.col, code, message)


def _shown(detail: ErrorDetails) -> str:
    """The value that was given, short enough for one line."""
    shown = repr(detail.get("input"))
    return shown if len(shown) <= 40 else shown[:37] + "..."
