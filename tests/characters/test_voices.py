"""The per-engine ``voices`` table: validated, positioned, linted, in the schema, in both forms."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

from unmute_server.characters.charfile import CharacterFileResult, parse_character_file
from unmute_server.characters.model import CharacterVoices
from unmute_server.characters.tomlwrite import character_to_toml
from unmute_server.characters.voices import (
    ESPEAK_VARIANTS,
    OPENAI_VOICES,
    is_embedded_voice,
    is_openai_voice,
)

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "character.schema.json").read_text()
)

GOOD_EMBEDDED = ["en", "en+f3", "+f3", "fr-fr+m2", "en-gb-scotland+croak", "en-us+whisper", "cmn"]
BAD_EMBEDDED = [
    "",
    "+",
    "en+",
    "EN",
    "-v",
    "--stdout",
    "en -w /tmp/x",
    "en+f3 -w",
    "../voices/x",
    "/usr/share/espeak-ng-data/voices/en",
    "en/f3",
    "en+3",
    "en+f3\n",
    "english",
    "en+f3+m1",
    "en_us",
]
GOOD_OPENAI = [*OPENAI_VOICES, "my-voice_2", "x"]
BAD_OPENAI = ["", "Alloy", "alloy ", "a" * 33, "voice.wav", "../alloy", "al loy", "é"]


def toml_file(voices: str) -> str:
    return textwrap.dedent(
        """\
        name = "Ada"

        [voice]
        source_type = "file"
        path_on_server = "voices/ada.wav"

        {voices}

        [instructions]
        type = "smalltalk"
        """
    ).format(voices=voices)


def python_file(voices: str) -> str:
    return textwrap.dedent(
        """\
        CHARACTER_NAME = "Ada"
        VOICE_SOURCE = {{"source_type": "file", "path_on_server": "voices/ada.wav"}}
        {voices}
        INSTRUCTIONS = {{"type": "smalltalk"}}
        """
    ).format(voices=voices)


def parse(name: str, text: str) -> CharacterFileResult:
    return parse_character_file(name, text.encode("utf-8"))


def problems(result: CharacterFileResult) -> list[tuple[int, int, str]]:
    return [(found.line, found.col, found.code) for found in result.diagnostics]


@pytest.mark.parametrize("spec", GOOD_EMBEDDED)
def test_espeak_voice_specs_are_accepted_by_the_model_and_the_schema(spec: str) -> None:
    assert is_embedded_voice(spec)
    assert CharacterVoices(embedded=spec).embedded == spec
    embedded_schema = SCHEMA["$defs"]["CharacterVoices"]["properties"]["embedded"]
    jsonschema.validate(spec, embedded_schema)


@pytest.mark.parametrize("spec", BAD_EMBEDDED)
def test_anything_else_is_refused_by_the_model_and_the_schema(spec: str) -> None:
    assert not is_embedded_voice(spec)
    embedded_schema = SCHEMA["$defs"]["CharacterVoices"]["properties"]["embedded"]
    assert not jsonschema.Draft202012Validator(embedded_schema).is_valid(spec)
    result = parse("pack/ada.toml", toml_file(f"[voices]\nembedded = {json.dumps(spec)}"))
    assert result.character is None
    assert [found.code for found in result.diagnostics] == ["CHR306"]


@pytest.mark.parametrize("name", GOOD_OPENAI)
def test_openai_voice_tokens_are_accepted(name: str) -> None:
    assert is_openai_voice(name)
    assert CharacterVoices(openai=name).openai == name


@pytest.mark.parametrize("name", BAD_OPENAI)
def test_openai_voice_names_that_are_not_tokens_are_refused(name: str) -> None:
    assert not is_openai_voice(name)
    openai_schema = SCHEMA["$defs"]["CharacterVoices"]["properties"]["openai"]
    assert not jsonschema.Draft202012Validator(openai_schema).is_valid(name)


def test_a_toml_voices_table_loads() -> None:
    result = parse("pack/ada.toml", toml_file('[voices]\nembedded = "+f3"\nopenai = "coral"'))
    assert result.diagnostics == ()
    assert result.character is not None
    assert result.character.voices == CharacterVoices(embedded="+f3", openai="coral")


def test_a_python_voices_dict_loads() -> None:
    result = parse("pack/ada.py", python_file('VOICES = {"embedded": "en+m3", "openai": "ash"}'))
    assert result.diagnostics == ()
    assert result.character is not None
    assert result.character.voices == CharacterVoices(embedded="en+m3", openai="ash")


def test_the_table_is_optional_and_may_name_one_engine() -> None:
    without = parse("pack/ada.toml", toml_file(""))
    assert without.character is not None
    assert without.character.voices is None
    one = parse("pack/ada.toml", toml_file('[voices]\nopenai = "sage"'))
    assert one.character is not None
    assert one.character.voices == CharacterVoices(openai="sage")


def test_a_bad_embedded_voice_is_chr306_at_its_value_in_toml() -> None:
    result = parse("pack/ada.toml", toml_file('[voices]\nembedded = "en -w /tmp/x"'))
    assert result.character is None
    assert problems(result) == [(8, 1, "CHR306")]
    message = result.diagnostics[0].message
    assert message.startswith("'voices.embedded' is not an espeak-ng voice; write an espeak-ng")
    assert "+f3" in message


def test_a_bad_openai_voice_is_chr306_at_its_value_in_python() -> None:
    result = parse("pack/ada.py", python_file('VOICES = {"embedded": "+f3", "openai": "Nova 2"}'))
    assert result.character is None
    assert problems(result) == [(3, 40, "CHR306")]
    assert result.diagnostics[0].message.startswith("`VOICES['openai']` is not a voice name; ")


def test_a_bad_embedded_voice_is_chr306_at_its_value_in_python() -> None:
    result = parse("pack/ada.py", python_file('VOICES = {"embedded": "../en"}'))
    assert problems(result) == [(3, 23, "CHR306")]


def test_an_unknown_engine_is_chr303_with_the_engines_named() -> None:
    toml = parse("pack/ada.toml", toml_file('[voices]\nopenia = "alloy"'))
    assert problems(toml) == [(8, 1, "CHR303")]
    assert toml.diagnostics[0].message == "unknown field 'voices.openia'; did you mean 'openai'?"
    python = parse("pack/ada.py", python_file('VOICES = {"kyutai": "x"}'))
    assert problems(python) == [(3, 21, "CHR303")]
    assert python.diagnostics[0].message == (
        "unknown key `VOICES['kyutai']`; allowed: embedded, openai"
    )


def test_a_voice_name_outside_the_known_lists_is_a_positioned_warning() -> None:
    toml = parse("pack/ada.toml", toml_file('[voices]\nembedded = "en+f9"\nopenai = "nova"'))
    assert toml.character is not None  # warnings never block a load
    assert problems(toml) == [(8, 1, "CHR307"), (9, 1, "CHR307")]
    assert "variant 'f9' is not one espeak-ng ships" in toml.diagnostics[0].message
    assert "'voices.openai' is 'nova', not one of OpenAI's voices" in toml.diagnostics[1].message
    python = parse("pack/ada.py", python_file('VOICES = {"embedded": "+nosuch"}'))
    assert python.character is not None
    assert problems(python) == [(3, 23, "CHR307")]


def test_known_variants_and_voices_give_no_warning() -> None:
    for variant in sorted(ESPEAK_VARIANTS):
        assert is_embedded_voice(f"+{variant}"), variant
    result = parse("pack/ada.toml", toml_file('[voices]\nembedded = "+whisper"\nopenai = "marin"'))
    assert result.diagnostics == ()


def test_convert_writes_the_table_and_it_reads_back_the_same() -> None:
    source = parse("pack/ada.py", python_file('VOICES = {"embedded": "en-gb+m4", "openai": "ash"}'))
    assert source.character is not None
    text = character_to_toml(source.character)
    assert '[voices]\nembedded = "en-gb+m4"\nopenai = "ash"\n' in text
    assert text.index("[voice]") < text.index("[voices]") < text.index("[instructions]")
    again = parse("pack/ada.toml", text)
    assert again.character == source.character
