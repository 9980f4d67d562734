"""The generated schema files: header first, stable text, and the committed copy is current."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.characters.test_model import HOSTILE_VOICE_PATHS, REAL_VOICE_PATHS
from unmute_server.characters.model import Character
from unmute_server.schemas import (
    DIALECT,
    SCHEMA_FILES,
    character_schema,
    generated_files,
    standard_unions,
    without_null,
)

SCHEMAS = Path(__file__).parent.parent / "schemas"


def test_character_schema_starts_with_its_header_then_the_model_schema() -> None:
    schema = character_schema()
    assert list(schema)[:4] == ["$schema", "$id", "title", "description"]
    assert schema["$schema"] == DIALECT
    assert schema["$id"].endswith("character.schema.json")
    model = without_null(standard_unions(Character.model_json_schema()))
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


def _keys(schema: object) -> set[str]:
    if isinstance(schema, dict):
        return set(schema) | {key for value in schema.values() for key in _keys(value)}
    if isinstance(schema, list):
        return {key for item in schema for key in _keys(item)}
    return set()


def test_the_character_schema_uses_no_openapi_keyword() -> None:
    """``discriminator`` is OpenAPI's: JSON Schema validators ignore it."""
    assert "discriminator" not in _keys(character_schema())
    assert "oneOf" not in _keys(character_schema())


CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
SCHEMA_FILE = SCHEMAS / "character.schema.json"

VALID_TOML = """\
name = "Ada"

[voice]
source_type = "file"
path_on_server = "voices/ada.wav"

[instructions]
type = "constant"
text = "You are Ada."
"""


def check_jsonschema(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """The real check-jsonschema CLI (the test extra installs it) on one TOML file."""
    assert CHECK_JSONSCHEMA.is_file(), "check-jsonschema is missing: pip install -e '.[test]'"
    character = tmp_path / "ada.toml"
    character.write_text(text, encoding="utf-8")
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--schemafile", str(SCHEMA_FILE), str(character)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_jsonschema_accepts_a_valid_character(tmp_path: Path) -> None:
    result = check_jsonschema(tmp_path, VALID_TOML)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_jsonschema_accepts_every_bundled_toml_character(tmp_path: Path) -> None:
    packs = Path(__file__).parent.parent / "character_packs"
    files = sorted(str(path) for path in packs.glob("*/*.toml"))
    assert files
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--schemafile", str(SCHEMA_FILE), *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            'text = "You are Ada."',
            'text = "You are Ada."\nlanguage = "french"',
            "$.instructions.language: 'french' does not match",
            id="language-name",
        ),
        pytest.param(
            'type = "constant"\ntext = "You are Ada."',
            'type = "smalltalk"\ntxt = "You are Ada."',
            "$.instructions: Additional properties are not allowed ('txt' was unexpected)",
            id="field-of-another-type",
        ),
        pytest.param(
            'type = "constant"',
            'type = "smaltalk"',
            "$.instructions.type: 'smaltalk' is not one of",
            id="instruction-type",
        ),
        pytest.param(
            'path_on_server = "voices/ada.wav"',
            'path_on_server = "voices/ada.wav"\nurl = "https://freesound.org/s/1/"',
            "$.voice: Additional properties are not allowed ('url' was unexpected)",
            id="voice-field",
        ),
        pytest.param(
            'source_type = "file"',
            'source_type = "files"',
            "$.voice.source_type: 'files' is not one of",
            id="voice-source-type",
        ),
    ],
)
def test_check_jsonschema_names_the_wrong_field(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    """The message names the field in the branch the file chose, not "any of the schemas"."""
    assert old in VALID_TOML
    result = check_jsonschema(tmp_path, VALID_TOML.replace(old, new))
    assert result.returncode == 1
    assert expected in result.stdout
    assert "any of the given schemas" not in result.stdout
