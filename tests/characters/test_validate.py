"""Validation: pydantic errors become positioned diagnostics with stable codes."""

from __future__ import annotations

from typing import Any

import pytest

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import FieldPath, Position, RawDocument
from unmute_server.characters.validate import validate_document

POSITIONS: dict[FieldPath, Position] = {
    ("name",): Position(2, 1),
    ("good",): Position(3, 1),
    ("voice",): Position(5, 2),
    ("voice", "source_type"): Position(6, 1),
    ("voice", "path_on_server"): Position(7, 1),
    ("instructions",): Position(9, 2),
    ("instructions", "type"): Position(10, 1),
    ("instructions", "text"): Position(11, 1),
}


def _fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Ada",
        "good": True,
        "voice": {"source_type": "file", "path_on_server": "voices/ada.wav"},
        "instructions": {"type": "constant", "text": "You are Ada."},
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def _validate(
    fields: dict[str, Any], *, absent: FieldPath = ()
) -> tuple[Any, tuple[Diagnostic, ...]]:
    """Validate ``fields``; ``absent`` is a key the file does not have, so it has no position."""
    positions = {path: found for path, found in POSITIONS.items() if path != absent}
    return validate_document(RawDocument("pack/ada.toml", fields, positions))


def _only(diagnostics: tuple[Diagnostic, ...]) -> Diagnostic:
    assert len(diagnostics) == 1, diagnostics
    return diagnostics[0]


def test_valid_fields_make_a_character_with_no_diagnostics() -> None:
    character, diagnostics = _validate(_fields())
    assert diagnostics == ()
    assert character.name == "Ada"
    assert character.voice.path_on_server == "voices/ada.wav"


def test_reader_error_means_no_character_even_with_valid_fields() -> None:
    reader_error = Diagnostic("pack/ada.py", 4, 1, "CHR102", "import os")
    document = RawDocument("pack/ada.py", _fields(), POSITIONS, (reader_error,))
    assert validate_document(document) == (None, (reader_error,))


def test_reader_warning_is_kept_and_does_not_block() -> None:
    warning = Diagnostic("pack/ada.py", 0, 0, "CHR401", "shadowed")
    character, diagnostics = validate_document(
        RawDocument("pack/ada.py", _fields(), POSITIONS, (warning,))
    )
    assert character is not None
    assert diagnostics == (warning,)


def test_missing_top_level_field_is_chr300_at_file_start() -> None:
    character, diagnostics = _validate(_fields(name=None), absent=("name",))
    assert character is None
    diagnostic = _only(diagnostics)
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("CHR300", 1, 1)
    assert diagnostic.message == "missing required field 'name'"


def test_missing_nested_field_points_at_its_table() -> None:
    fields = _fields(voice={"source_type": "file"})
    diagnostic = _only(_validate(fields, absent=("voice", "path_on_server"))[1])
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("CHR300", 5, 2)
    assert diagnostic.message == "missing required field 'voice.path_on_server'"


def test_wrong_type_is_chr301_at_the_key() -> None:
    diagnostic = _only(_validate(_fields(good="yes"))[1])
    assert (diagnostic.code, diagnostic.line) == ("CHR301", 3)
    assert diagnostic.message == "'good' must be true or false, not 'yes'"


def test_union_member_error_drops_the_tag_from_the_path() -> None:
    fields = _fields(instructions={"type": "constant", "text": ""})
    diagnostic = _only(_validate(fields)[1])
    assert (diagnostic.code, diagnostic.line) == ("CHR301", 11)
    assert diagnostic.message.startswith("'instructions.text': ")


def test_unknown_instruction_type_points_at_type_and_lists_the_types() -> None:
    diagnostic = _only(_validate(_fields(instructions={"type": "monologue"}))[1])
    assert (diagnostic.code, diagnostic.line) == ("CHR301", 10)
    assert "'instructions.type' is 'monologue'" in diagnostic.message
    assert "'constant'" in diagnostic.message
    assert "'template'" in diagnostic.message


def test_instructions_without_type_is_chr300() -> None:
    diagnostic = _only(_validate(_fields(instructions={"text": "hi"}))[1])
    assert (diagnostic.code, diagnostic.line) == ("CHR300", 9)
    assert "'instructions' needs a" in diagnostic.message
    assert "type" in diagnostic.message


def test_unknown_placeholder_is_chr302_at_the_text() -> None:
    fields = _fields(instructions={"type": "template", "text": "Hi {nme}"})
    diagnostic = _only(_validate(fields)[1])
    assert (diagnostic.code, diagnostic.line) == ("CHR302", 11)
    assert "{nme}" in diagnostic.message
    assert "name" in diagnostic.message


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("nam", "name"),
        ("NAME", "name"),
        ("CHARACTER_NAME", "name"),
        ("VOICE_SOURCE", "voice"),
        ("Instructions", "instructions"),
        ("comments", "comment"),
    ],
)
def test_unknown_field_is_chr303_with_did_you_mean(key: str, hint: str) -> None:
    positions = {**POSITIONS, (key,): Position(4, 1)}
    fields = {**_fields(), key: "x"}
    diagnostic = _only(validate_document(RawDocument("pack/a.toml", fields, positions))[1])
    assert (diagnostic.code, diagnostic.line) == ("CHR303", 4)
    assert diagnostic.message == f"unknown field '{key}'; did you mean '{hint}'?"


def test_unknown_field_without_a_close_match_lists_the_allowed_fields() -> None:
    diagnostic = _only(_validate({**_fields(), "zzzzzz": 1})[1])
    assert diagnostic.code == "CHR303"
    assert diagnostic.message == (
        "unknown field 'zzzzzz'; allowed: name, good, comment, voice, voices, instructions"
    )


def test_unknown_key_inside_a_tagged_table_suggests_from_that_member() -> None:
    voice = {"source_type": "freesound", "url": "https://x", "sound_instanse": {}}
    diagnostic = _only(_validate(_fields(voice=voice))[1])
    assert diagnostic.code == "CHR303"
    assert diagnostic.message == (
        "unknown field 'voice.sound_instanse'; did you mean 'sound_instance'?"
    )


def test_every_error_is_reported_not_only_the_first() -> None:
    fields = _fields(good="yes", voice={"source_type": "file"})
    codes = sorted(diagnostic.code for diagnostic in _validate(fields)[1])
    assert codes == ["CHR300", "CHR301"]


def test_position_falls_back_to_the_nearest_recorded_ancestor() -> None:
    positions: dict[FieldPath, Position] = {("voice",): Position(5, 2)}
    fields = _fields(voice={"source_type": "file", "path_on_server": 3})
    diagnostic = _only(validate_document(RawDocument("a.toml", fields, positions))[1])
    assert (diagnostic.line, diagnostic.col) == (5, 2)


def test_a_voice_path_leaving_the_voice_folder_is_chr304_at_the_value_naming_the_fix() -> None:
    voice = {"source_type": "file", "path_on_server": "../../etc/shadow"}
    diagnostic = _only(_validate(_fields(voice=voice))[1])
    assert diagnostic == Diagnostic(
        "pack/ada.toml",
        7,
        1,
        "CHR304",
        "'voice.path_on_server' climbs out with '..'; write a relative path under the TTS "
        "server's voice folder, e.g. voices/nova.wav",
    )
