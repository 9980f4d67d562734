"""The character records: frozen, strict, and closed to unknown fields and placeholders."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from unmute_server.characters.model import (
    INSTRUCTION_TYPES,
    TEMPLATE_PLACEHOLDERS,
    Character,
    field_to_python_name,
    python_name_to_field,
    template_fields,
)


def _character(**overrides: Any) -> Character:
    data: dict[str, Any] = {
        "name": "Ada",
        "voice": {"source_type": "file", "path_on_server": "voices/ada.wav"},
        "instructions": {"type": "constant", "text": "You are Ada."},
    }
    data.update(overrides)
    return Character.model_validate(data)


def test_character_is_frozen() -> None:
    character = _character()
    with pytest.raises(ValidationError, match="frozen"):
        character.name = "Eve"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        character.instructions.text = "changed"  # type: ignore[misc,union-attr]


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"Extra inputs are not permitted"):
        _character(mood="happy")


def test_strict_mode_refuses_string_for_bool() -> None:
    with pytest.raises(ValidationError, match="valid boolean"):
        _character(good="yes")


def test_every_instruction_type_validates() -> None:
    for instruction_type in INSTRUCTION_TYPES:
        instructions: dict[str, Any] = {"type": instruction_type}
        if instruction_type in ("constant", "template"):
            instructions["text"] = "Hello {name}" if instruction_type == "template" else "Hi"
        assert _character(instructions=instructions).instructions.type == instruction_type


@pytest.mark.parametrize(
    "text",
    ["{nope}", "{name.__class__}", "{name[0]}", "{name!r}", "{name:>10}", "{0}", "{}"],
)
def test_template_refuses_unknown_or_non_bare_placeholders(text: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        _character(instructions={"type": "template", "text": text})


def test_template_accepts_every_documented_placeholder() -> None:
    text = " ".join(f"{{{name}}}" for name in TEMPLATE_PLACEHOLDERS) + " {{literal braces}}"
    character = _character(instructions={"type": "template", "text": text})
    assert template_fields(character.instructions.text) == list(TEMPLATE_PLACEHOLDERS)  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["", " Ada", "Ada ", "A\nB", "x" * 65])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        _character(name=name)


def test_python_field_names_map_both_ways() -> None:
    assert python_name_to_field("CHARACTER_NAME") == "name"
    assert python_name_to_field("VOICE_SOURCE") == "voice"
    assert python_name_to_field("GOOD") == "good"
    for field in Character.model_fields:
        assert python_name_to_field(field_to_python_name(field)) == field
