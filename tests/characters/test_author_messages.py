"""What an author reads for the usual mistakes, in both file forms: real files in ``tmp_path``
parsed as a pack parses them, every problem of a file reported in one run, at its own place,
in the form's own spelling."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from unmute_server.characters.charfile import parse_character_file
from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.prompts import PromptContext, render_system_prompt

TOML_HEAD = '[voice]\nsource_type = "file"\npath_on_server = "v.wav"\n'


def _parse(tmp_path: Path, name: str, text: str) -> tuple[Diagnostic, ...]:
    target = tmp_path / name
    target.write_text(text, encoding="utf-8")
    result = parse_character_file(name, target.read_bytes())
    if result.diagnostics and any(found.is_error for found in result.diagnostics):
        assert result.character is None
    return result.diagnostics


def _toml(language: str) -> str:
    return f'name = "A"\n{TOML_HEAD}[instructions]\ntype = "news"\nlanguage = "{language}"\n'


def _python(language: str) -> str:
    return (
        'CHARACTER_NAME = "A"\n'
        'VOICE_SOURCE = {"source_type": "file", "path_on_server": "v.wav"}\n'
        f'INSTRUCTIONS = {{"type": "news", "language": "{language}"}}\n'
    )


# ---------------------------------------------------------------- language (issue 14.2)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("french", "fr"),
        ("French", "fr"),
        ("fr-FR", "fr"),
        ("fr_FR", "fr"),
        ("fra", "fr"),
        ("fre", "fr"),
        ("FR", "fr"),
        ("english/french", "en/fr"),
        ("en-GB/fr-FR", "en/fr"),
        ("frensh", "fr"),
    ],
)
@pytest.mark.parametrize("form", ["toml", "py"])
def test_language_written_as_a_name_or_tag_suggests_the_code(
    tmp_path: Path, form: str, written: str, meant: str
) -> None:
    text = _toml(written) if form == "toml" else _python(written)
    (found,) = _parse(tmp_path, f"a.{form}", text)
    assert found.code == "CHR301"
    assert "a two-letter ISO 639-1 code such as `fr`, or a pair such as `en/fr`" in found.message
    assert f"did you mean `{meant}`?" in found.message
    assert "pattern" not in found.message
    assert (found.line, found.col) == ((7, 1) if form == "toml" else (3, 45))


@pytest.mark.parametrize("code", ["zz", "en/zz", "qq/fr"])
def test_language_code_that_does_not_exist_is_an_error(tmp_path: Path, code: str) -> None:
    (found,) = _parse(tmp_path, "a.toml", _toml(code))
    assert found.code == "CHR301"
    assert "is not an ISO 639-1 code" in found.message
    assert "zz" in found.message or "qq" in found.message


@pytest.mark.parametrize("code", ["fr", "en/fr", "yo", "ha"])
def test_every_iso_639_1_code_is_accepted(tmp_path: Path, code: str) -> None:
    assert _parse(tmp_path, "a.toml", _toml(code)) == ()


def test_prompt_names_a_language_outside_the_old_short_list(tmp_path: Path) -> None:
    target = tmp_path / "a.toml"
    target.write_text(_toml("yo"), encoding="utf-8")
    character = parse_character_file("a.toml", target.read_bytes()).character
    assert character is not None
    now = datetime(2026, 11, 24, 14, 5, tzinfo=UTC)
    prompt = render_system_prompt(character, PromptContext(now=now, timezone="UTC", seed=1))
    assert "Answer in Yoruba." in prompt
    assert "ISO 639-1 code" not in prompt


# ----------------------------------------------------------- placeholders (issue 14.3)

TEMPLATE_TOML = (
    'name = "A"\n'
    + TOML_HEAD
    + '[instructions]\ntype = "template"\ntext = """\nYou are {name}.\n'
    + "Today is {dte} and {like this}.\n"
    + "Literal {{braces}} are fine; {zone} is not.\n"
    + '"""\n'
)

TEMPLATE_PYTHON = (
    'CHARACTER_NAME = "A"\n'
    'VOICE_SOURCE = {"source_type": "file", "path_on_server": "v.wav"}\n'
    'INSTRUCTIONS = {\n    "type": "template",\n    "text": """\nYou are {name}.\n'
    "Today is {dte} and {like this}.\n"
    "Literal {{braces}} are fine; {zone} is not.\n"
    '""",\n}\n'
)


@pytest.mark.parametrize(
    ("name", "text", "first_line"), [("a.toml", TEMPLATE_TOML, 9), ("a.py", TEMPLATE_PYTHON, 7)]
)
def test_every_bad_placeholder_is_reported_at_its_own_line_and_column(
    tmp_path: Path, name: str, text: str, first_line: int
) -> None:
    found = _parse(tmp_path, name, text)
    assert [(d.code, d.line, d.col) for d in found] == [
        ("CHR302", first_line, 10),
        ("CHR302", first_line, 20),
        ("CHR302", first_line + 1, 30),
    ]
    dte, spaced, zone = (d.message for d in found)
    assert "{dte}" in dte
    assert "did you mean {date}?" in dte
    assert "{zone}" in zone
    for message in (dte, spaced, zone):
        assert "a placeholder is a name in braces" in message
        assert "write `{{` and `}}` for a literal brace" in message
    assert "{like this}" in spaced


def test_lone_brace_says_how_to_write_a_literal_brace(tmp_path: Path) -> None:
    text = 'name = "A"\n' + TOML_HEAD + '[instructions]\ntype = "template"\ntext = "a } b"\n'
    (found,) = _parse(tmp_path, "a.toml", text)
    assert found.code == "CHR302"
    assert "write `{{` and `}}` for a literal brace" in found.message


# ------------------------------------------------ restricted Python in one run (14.4)


def test_python_file_reports_every_problem_in_one_run(tmp_path: Path) -> None:
    text = (
        'CHARACTER_NAME = "A"\n'
        'GOOD = "yes"\n'
        'COMENT = "typo"\n'
        'VOICE_SOURCE = {"source_type": "file", "path_on_server": "v.wav"}\n'
        'INSTRUCTIONS = {"type": "smaltalk"}\n'
    )
    found = _parse(tmp_path, "a.py", text)
    assert [(d.code, d.line, d.col) for d in found] == [
        ("CHR301", 2, 8),
        ("CHR109", 3, 1),
        ("CHR301", 5, 25),
    ]
    good, comment, kind = (d.message for d in found)
    assert good.startswith("`GOOD` must be True or False")
    assert "did you mean `COMMENT`?" in comment
    assert "`INSTRUCTIONS['type']`" in kind
    assert "'smalltalk'" in kind


def test_python_misspelt_field_does_not_also_report_it_missing(tmp_path: Path) -> None:
    text = (
        'CHARACTR_NAME = "A"\n'
        'VOICE_SOURCE = {"source_type": "file", "path_on_server": "v.wav"}\n'
        'INSTRUCTIONS = {"type": "news"}\n'
    )
    found = _parse(tmp_path, "a.py", text)
    assert [d.code for d in found] == ["CHR109"]


def test_python_value_that_cannot_be_read_is_not_also_missing(tmp_path: Path) -> None:
    text = (
        "import os\n"
        "CHARACTER_NAME = os.name\n"
        'VOICE_SOURCE = {"source_type": "file", "path_on_server": "v.wav"}\n'
        'INSTRUCTIONS = {"type": "news", "language": "french"}\n'
    )
    found = _parse(tmp_path, "a.py", text)
    assert [d.code for d in found] == ["CHR102", "CHR104", "CHR301"]


def test_python_messages_use_the_python_spelling(tmp_path: Path) -> None:
    text = 'VOICE_SOURCE = {"source_type": "file"}\nINSTRUCTIONS = {"type": "news"}\n'
    messages = [d.message for d in _parse(tmp_path, "a.py", text)]
    assert any("`CHARACTER_NAME`" in message for message in messages), messages
    assert any("`VOICE_SOURCE['path_on_server']`" in message for message in messages), messages
    assert not any("'name'" in message for message in messages), messages


def test_toml_too_long_string_does_not_hide_a_wrong_type(tmp_path: Path) -> None:
    text = f'name = "A"\ngood = "yes"\ncomment = "{"x" * 70_000}"\n' + TOML_HEAD
    text += '[instructions]\ntype = "news"\n'
    assert [d.code for d in _parse(tmp_path, "a.toml", text)] == ["CHR301", "CHR006"]


# --------------------------------------------------------------- small things (14.10)


def test_toml_boolean_given_text_says_true_or_false(tmp_path: Path) -> None:
    text = 'name = "A"\ngood = "yes"\n' + TOML_HEAD + '[instructions]\ntype = "news"\n'
    (found,) = _parse(tmp_path, "a.toml", text)
    assert (found.code, found.line, found.col) == ("CHR301", 2, 1)
    assert found.message.startswith("'good' must be true or false")


def test_toml_string_left_open_says_string_not_closed(tmp_path: Path) -> None:
    (found,) = _parse(tmp_path, "a.toml", 'name = "A\ngood = true\n')
    assert found.code == "CHR200"
    assert "string not closed" in found.message
    assert "illegal character" not in found.message


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        (
            "a.toml",
            'name = "A"\nvoice = "x.wav"\n[instructions]\ntype = "news"\n',
            "'voice' is a table: `[voice]` with `source_type` and `path_on_server`",
        ),
        (
            "a.py",
            'CHARACTER_NAME = "A"\nVOICE_SOURCE = "x.wav"\nINSTRUCTIONS = {"type": "news"}\n',
            '`VOICE_SOURCE` is a dict: `{"source_type": "file", "path_on_server": ...}`',
        ),
    ],
)
def test_voice_given_as_a_string_says_it_is_a_table(
    tmp_path: Path, name: str, text: str, words: str
) -> None:
    (found,) = _parse(tmp_path, name, text)
    assert (found.code, found.line) == ("CHR301", 2)
    assert words in found.message
    assert "dictionary or object" not in found.message


# ------------------------------------------------------------------- persona (14.6)


def _persona_toml(kind: str, persona: str) -> str:
    return f'name = "A"\n{TOML_HEAD}[instructions]\ntype = "{kind}"\npersona = """{persona}"""\n'


@pytest.mark.parametrize(
    "kind", ["smalltalk", "quiz_show", "news", "guess_animal", "unmute_explanation"]
)
def test_every_built_in_type_takes_a_persona(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "a.toml"
    target.write_text(_persona_toml(kind, "You collect sea shells."), encoding="utf-8")
    result = parse_character_file("a.toml", target.read_bytes())
    assert result.diagnostics == ()
    assert result.character is not None
    assert result.character.instructions.persona == "You collect sea shells."  # type: ignore[union-attr]


def test_blank_persona_is_refused(tmp_path: Path) -> None:
    (found,) = _parse(tmp_path, "a.toml", _persona_toml("smalltalk", "  \n "))
    assert (found.code, found.line, found.col) == ("CHR301", 7, 1)
    assert found.message == (
        "'instructions.persona': is blank; describe the character or leave it out"
    )


def test_persona_over_the_length_limit_is_refused(tmp_path: Path) -> None:
    (found,) = _parse(tmp_path, "a.toml", _persona_toml("smalltalk", "x" * 2001))
    assert found.code == "CHR301"
    assert "2000" in found.message


def test_constant_and_template_take_no_persona(tmp_path: Path) -> None:
    text = _persona_toml("constant", "Shells.").replace("persona", 'text = "Hi."\npersona')
    (found,) = _parse(tmp_path, "a.toml", text)
    assert found.code == "CHR303"
    assert "unknown field 'instructions.persona'" in found.message
