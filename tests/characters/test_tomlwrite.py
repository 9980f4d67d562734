"""The TOML writer: readable output that reads back to an equal character."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unmute_server.characters.charfile import parse_character_file
from unmute_server.characters.languages import LANGUAGE_NAMES
from unmute_server.characters.limits import DEFAULT_LIMITS
from unmute_server.characters.model import (
    TEMPLATE_PLACEHOLDERS,
    Character,
    CharacterVoices,
    ConstantInstructions,
    FileVoice,
    FreesoundVoice,
    GuessAnimalInstructions,
    NewsInstructions,
    QuizShowInstructions,
    SmalltalkInstructions,
    TemplateInstructions,
    UnmuteExplanationInstructions,
)
from unmute_server.characters.tomlfile import read_toml
from unmute_server.characters.tomlwrite import WRAP_WIDTH, TomlWriteError, character_to_toml
from unmute_server.characters.validate import validate_document
from unmute_server.characters.voices import OPENAI_VOICES


def _character(**overrides: Any) -> Character:
    data: dict[str, Any] = {
        "name": "Charles",
        "good": True,
        "comment": "Voice cloned from a historical recording.",
        "voice": {"source_type": "file", "path_on_server": "voices/charles.wav"},
        "instructions": {"type": "constant", "text": "You are Charles."},
    }
    data.update(overrides)
    return Character.model_validate(data)


def _read_back(text: str) -> Character | None:
    character, diagnostics = validate_document(read_toml("x.toml", text, DEFAULT_LIMITS))
    assert diagnostics == (), diagnostics
    return character


def test_output_is_the_documented_layout_with_schema_directive() -> None:
    text = character_to_toml(_character(), "../../schemas/character.schema.json")
    assert text == textwrap.dedent(
        """\
        #:schema ../../schemas/character.schema.json
        name = "Charles"
        good = true
        comment = "Voice cloned from a historical recording."

        [voice]
        source_type = "file"
        path_on_server = "voices/charles.wav"

        [instructions]
        type = "constant"
        text = "You are Charles."
        """
    )


def test_no_schema_comment_means_no_directive_and_unset_fields_are_left_out() -> None:
    text = character_to_toml(_character(comment=None, good=False))
    assert text.startswith('name = "Charles"\ngood = false\n\n[voice]\n')
    assert "comment" not in text


def test_text_with_line_breaks_is_a_multiline_string() -> None:
    prompt = 'You are Charles.\nAnswer "briefly".\n\tNo lists.\n'
    character = _character(instructions={"type": "constant", "text": prompt})
    text = character_to_toml(character)
    assert 'text = """\nYou are Charles.\nAnswer \\"briefly\\".\n\tNo lists.\n"""' in text
    assert _read_back(text) == character


def test_long_one_line_text_is_wrapped_without_changing_it() -> None:
    prompt = " ".join(f"word{number}" for number in range(60)) + '  two  spaces, a "quote"\\'
    character = _character(instructions={"type": "constant", "text": prompt})
    text = character_to_toml(character)
    assert 'text = """\nword0 word1 ' in text
    body = text.split('text = """\n')[1].split('"""')[0]
    assert all(len(line) <= WRAP_WIDTH + 1 for line in body.splitlines())
    assert len(body.splitlines()) > 3
    assert all(line.endswith(" \\") for line in body.splitlines()[:-1])
    assert _read_back(text) == character


def test_crlf_in_a_text_is_kept_by_falling_back_to_escapes() -> None:
    character = _character(instructions={"type": "constant", "text": "one\r\ntwo\nthree"})
    text = character_to_toml(character)
    assert '"""' not in text
    assert _read_back(text) == character


def test_none_inside_sound_instance_is_refused_naming_the_key() -> None:
    voice = {"source_type": "freesound", "url": "https://x", "sound_instance": {"id": None}}
    with pytest.raises(TomlWriteError, match=r"'voice\.sound_instance\.id' is None") as caught:
        character_to_toml(_character(voice=voice))
    assert caught.value.path == ("voice", "sound_instance", "id")


def test_sound_instance_becomes_a_subtable_that_reads_back() -> None:
    voice = {
        "source_type": "freesound",
        "url": "https://freesound.org/s/1",
        "sound_instance": {"id": 1, "name": "bell", "loud": False, "gain": -1.5},
    }
    character = _character(voice=voice)
    text = character_to_toml(character)
    assert "[voice.sound_instance]\n" in text
    assert _read_back(text) == character


def test_multiline_schema_reference_is_refused() -> None:
    with pytest.raises(ValueError, match="one line"):
        character_to_toml(_character(), "a\nname = 'evil'")


# --- round trip ---------------------------------------------------------------------------

_CHARS = st.characters(codec="utf-8")  # anything but a surrogate
#: Long texts made of words, so wrapping (which breaks only after a space) has work to do.
_prose = st.lists(
    st.text(alphabet=_CHARS, max_size=12) | st.sampled_from([" ", "\t", '"', "\\"]),
    min_size=20,
    max_size=80,
).map(" ".join)
_texts = st.text(alphabet=_CHARS, max_size=120) | _prose
_nonempty = st.text(alphabet=_CHARS, min_size=1, max_size=120) | _prose.filter(bool)
_maybe_text = st.none() | _texts
_names = st.text(
    alphabet=st.characters(categories=("L", "M", "N", "P", "S"), include_characters=" "),
    min_size=1,
    max_size=64,
).filter(lambda name: name == name.strip())
#: Relative voice paths: printable segments with no '/' or '\\', never '..', the first with
#: no ':' (which would read as a URL scheme) and not starting with '~'.
_segments = st.text(
    alphabet=st.characters(
        categories=("L", "M", "N", "P", "S"), include_characters=" ", exclude_characters="/\\"
    ),
    min_size=1,
    max_size=20,
).filter(lambda segment: segment != "..")
_voice_paths = (
    st.lists(_segments, min_size=1, max_size=4)
    .map("/".join)
    .filter(lambda path: ":" not in path.split("/")[0] and not path.startswith("~"))
)
_codes = st.sampled_from(sorted(LANGUAGE_NAMES))
_languages = st.none() | _codes | st.tuples(_codes, _codes).map("/".join)
_template_texts = (
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(codec="utf-8", exclude_characters="{}"), max_size=30),
            st.sampled_from(["{{", "}}"]),
            st.sampled_from(sorted(TEMPLATE_PLACEHOLDERS)).map(lambda name: f"{{{name}}}"),
        ),
        min_size=1,
        max_size=8,
    )
    .map("".join)
    .filter(bool)
)
_scalars = st.one_of(
    st.text(alphabet=_CHARS, max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
)
_voices = st.one_of(
    st.builds(
        FileVoice,
        source_type=st.just("file"),
        path_on_server=_voice_paths,
        description=_maybe_text,
        description_link=_maybe_text,
    ),
    st.builds(
        FreesoundVoice,
        source_type=st.just("freesound"),
        url=_nonempty,
        path_on_server=st.none() | _voice_paths,
        description=_maybe_text,
        sound_instance=st.none()
        | st.dictionaries(st.text(alphabet=_CHARS, max_size=10), _scalars, max_size=5),
    ),
)
_instructions = st.one_of(
    st.builds(ConstantInstructions, type=st.just("constant"), text=_nonempty, language=_languages),
    st.builds(
        TemplateInstructions, type=st.just("template"), text=_template_texts, language=_languages
    ),
    st.builds(SmalltalkInstructions, type=st.just("smalltalk"), language=_languages),
    st.builds(QuizShowInstructions, type=st.just("quiz_show"), language=_languages),
    st.builds(NewsInstructions, type=st.just("news"), language=_languages),
    st.builds(GuessAnimalInstructions, type=st.just("guess_animal"), language=_languages),
    st.builds(
        UnmuteExplanationInstructions, type=st.just("unmute_explanation"), language=_languages
    ),
)
#: A per-engine voice table, or none (known names only: others give a CHR307 warning).
_voice_tables = st.none() | st.builds(
    CharacterVoices,
    embedded=st.none() | st.sampled_from(["en", "+f3", "fr-fr+m2", "en-gb-scotland+croak"]),
    openai=st.none() | st.sampled_from(OPENAI_VOICES),
)
#: Any valid character (also used by the ``convert`` round-trip test).
any_character = st.builds(
    Character,
    name=_names,
    good=st.booleans(),
    comment=_maybe_text,
    voice=_voices,
    voices=_voice_tables,
    instructions=_instructions,
)


@settings(max_examples=400)
@given(
    character=any_character,
    schema=st.none() | st.sampled_from(["schemas/character.schema.json", "../../s.json"]),
)
def test_any_valid_character_round_trips_through_toml(
    character: Character, schema: str | None
) -> None:
    text = character_to_toml(character, schema)
    result = parse_character_file("pack/any.toml", text.encode("utf-8"))
    # A drawn name may mix scripts: a warning a valid character can carry (CHR305).
    assert [d for d in result.diagnostics if d.code != "CHR305"] == []
    assert result.character == character
