"""The generated schema files: header first, stable text, and the committed copy is current."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.characters.test_model import HOSTILE_VOICE_PATHS, REAL_VOICE_PATHS
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


def _voice_path_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "character.schema.json").read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema)


@pytest.mark.parametrize("source_type", ["file", "freesound"])
def test_the_committed_schema_refuses_the_voice_paths_the_model_refuses(source_type: str) -> None:
    """Editors check TOML files against the schema: they flag the same paths lint does."""
    validator = _voice_path_validator()

    def accepts(path: str) -> bool:
        voice = {"source_type": source_type, "path_on_server": path}
        if source_type == "freesound":
            voice["url"] = "https://freesound.org/s/1/"
        document = {"name": "A", "voice": voice, "instructions": {"type": "news"}}
        return bool(validator.is_valid(document))

    assert [path for path in REAL_VOICE_PATHS if not accepts(path)] == []
    assert [path for path in HOSTILE_VOICE_PATHS if accepts(path)] == []
