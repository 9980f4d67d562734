"""The generated schema files: header first, stable text, and the committed copy is current."""

from __future__ import annotations

import json
from pathlib import Path

from unmute_server.characters.model import Character
from unmute_server.schemas import DIALECT, SCHEMA_FILES, character_schema, generated_files

SCHEMAS = Path(__file__).parent.parent / "schemas"


def test_character_schema_starts_with_its_header_then_the_model_schema() -> None:
    schema = character_schema()
    assert list(schema)[:4] == ["$schema", "$id", "title", "description"]
    assert schema["$schema"] == DIALECT
    assert schema["$id"].endswith("character.schema.json")
    model = Character.model_json_schema()
    assert {
        key: value
        for key, value in schema.items()
        if key in model and key not in {"title", "description"}
    } == {key: value for key, value in model.items() if key not in {"title", "description"}}


def test_generation_is_stable_text_with_a_final_newline() -> None:
    first = generated_files()
    assert generated_files() == first
    for text in first.values():
        assert text.endswith("}\n")
        json.loads(text)


def test_every_registered_schema_is_committed_and_current() -> None:
    for name, text in generated_files().items():
        assert (SCHEMAS / name).read_text(encoding="utf-8") == text, name
    assert set(SCHEMA_FILES) >= {"character.schema.json"}


def test_schema_requires_what_the_model_requires() -> None:
    schema = character_schema()
    assert schema["required"] == ["name", "voice", "instructions"]
    assert schema["additionalProperties"] is False
