"""Turn a reader's ``RawDocument`` into a ``Character`` or positioned diagnostics.

Pydantic does the validating; this module only translates its error locations back into the
file's lines and columns and picks the stable code for each kind of error.
"""

from __future__ import annotations

import difflib
import typing

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from unmute_server.characters.confusables import mixed_script_warning
from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import FieldPath, RawDocument
from unmute_server.characters.model import (
    VOICE_PATH_FIX,
    Character,
    CharacterVoices,
    Instructions,
    VoiceSource,
    python_name_to_field,
)
from unmute_server.characters.voices import (
    EMBEDDED_VOICE_FIX,
    OPENAI_VOICE_FIX,
    unknown_voice_warnings,
)


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
    """Validate ``document``; a reader error means no character, whatever the fields say."""
    if any(diagnostic.is_error for diagnostic in document.diagnostics):
        return None, document.diagnostics
    try:
        character = Character.model_validate(dict(document.fields))
    except ValidationError as error:
        found = tuple(_diagnostic(document, detail) for detail in error.errors())
        return None, document.diagnostics + found
    warnings = []
    mixed = mixed_script_warning(document, character.name)
    if mixed is not None:
        warnings.append(mixed)
    if character.voices is not None:
        voices = character.voices
        warnings += unknown_voice_warnings(document, voices.embedded, voices.openai)
    return character, (*document.diagnostics, *warnings) if warnings else document.diagnostics


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


def _diagnostic(document: RawDocument, detail: ErrorDetails) -> Diagnostic:
    loc = detail["loc"]
    path = _data_path(loc)
    position = document.position_of(path)
    kind = detail["type"]
    where = _dotted(path)
    if kind == "missing":
        code, message = "CHR300", f"missing required field '{where}'"
    elif kind == "extra_forbidden":
        code = "CHR303"
        allowed = _allowed_keys(loc)
        hint = _suggestion(str(loc[-1]), allowed)
        message = f"unknown field '{where}'"
        message += f"; did you mean '{hint}'?" if hint else f"; allowed: {', '.join(allowed)}"
    elif kind == "union_tag_invalid":
        context = detail.get("ctx", {})
        tag_field = str(context.get("discriminator", "type")).strip("'")
        position = document.position_of((*path, tag_field))
        code = "CHR301"
        message = (
            f"'{where}.{tag_field}' is {context.get('tag')!r}; "
            f"expected one of {context.get('expected_tags')}"
        )
    elif kind == "union_tag_not_found":
        context = detail.get("ctx", {})
        code = "CHR300"
        message = f"'{where}' needs a {context.get('discriminator', 'tag')} field"
    elif kind == "voice_path":
        code, message = "CHR304", f"'{where}' {detail['msg']}; {VOICE_PATH_FIX}"
    elif kind == "embedded_voice":
        code, message = "CHR306", f"'{where}' {detail['msg']}; {EMBEDDED_VOICE_FIX}"
    elif kind == "openai_voice":
        code, message = "CHR306", f"'{where}' {detail['msg']}; {OPENAI_VOICE_FIX}"
    elif kind == "value_error" and "placeholder" in detail["msg"]:
        code = "CHR302"
        message = f"'{where}': {detail['msg'].removeprefix('Value error, ')}"
    else:
        code = "CHR301"
        message = f"'{where}': {detail['msg'].removeprefix('Value error, ')}"
    return Diagnostic(document.path, position.line, position.col, code, message)
