"""The restricted-Python reader: what it accepts, what it refuses and where, and that it never
raises, read from real files on disk."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unmute_server.characters.charfile import parse_character_file
from unmute_server.characters.diagnostics import CODES, Diagnostic
from unmute_server.characters.document import Position, RawDocument
from unmute_server.characters.limits import DEFAULT_LIMITS, LoadLimits
from unmute_server.characters.model import Character
from unmute_server.characters.pyfile import read_python
from unmute_server.characters.validate import validate_document

DESIGN_EXAMPLE = '''\
"""Charles: a French general who talks about history."""   # a module docstring is allowed
CHARACTER_NAME = "Charles"
GOOD = True
COMMENT = "Voice cloned from a historical recording."
VOICE_SOURCE = {
    "source_type": "file",
    "path_on_server": "voices/charles.wav",
    "description": "Archive recording",
}
INSTRUCTIONS = {
    "type": "constant",
    "text": (
        "You are Charles, a French general. "   # implicit concatenation is fine
        "Answer in short sentences."
    ),
}
'''

#: The fields a valid file needs besides the one a test is about.
VOICE = 'VOICE_SOURCE = {"source_type": "file", "path_on_server": "voices/a.wav"}\n'
INSTRUCTIONS = 'INSTRUCTIONS = {"type": "constant", "text": "Be brief."}\n'


def _write(tmp_path: Path, text: str | bytes, name: str = "charles.py") -> Path:
    target = tmp_path / name
    if isinstance(text, str):
        target.write_text(text, encoding="utf-8", newline="")
    else:
        target.write_bytes(text)
    return target


def _read(tmp_path: Path, text: str | bytes, limits: LoadLimits = DEFAULT_LIMITS) -> RawDocument:
    """Write ``text`` to a file and read it back as the pack loader does (bytes, then UTF-8)."""
    data = _write(tmp_path, text).read_bytes()
    return read_python("pack/charles.py", data.decode("utf-8"), limits)


def _load(
    tmp_path: Path, text: str | bytes, limits: LoadLimits = DEFAULT_LIMITS
) -> tuple[Character | None, tuple[Diagnostic, ...]]:
    data = _write(tmp_path, text).read_bytes()
    result = parse_character_file("pack/charles.py", data, limits)
    return result.character, result.diagnostics


def _found(document: RawDocument) -> list[tuple[str, int, int]]:
    return [(found.code, found.line, found.col) for found in document.diagnostics]


# -- what is accepted ----------------------------------------------------------------------


def test_design_example_reads_to_fields_and_validates(tmp_path: Path) -> None:
    document = _read(tmp_path, DESIGN_EXAMPLE)
    assert document.diagnostics == ()
    assert document.fields == {
        "name": "Charles",
        "good": True,
        "comment": "Voice cloned from a historical recording.",
        "voice": {
            "source_type": "file",
            "path_on_server": "voices/charles.wav",
            "description": "Archive recording",
        },
        "instructions": {
            "type": "constant",
            "text": "You are Charles, a French general. Answer in short sentences.",
        },
    }
    character, diagnostics = validate_document(document)
    assert diagnostics == ()
    assert character is not None
    assert character.name == "Charles"
    assert character.voice.path_on_server == "voices/charles.wav"


def test_design_example_loads_through_parse_character_file(tmp_path: Path) -> None:
    character, diagnostics = _load(tmp_path, DESIGN_EXAMPLE)
    assert diagnostics == ()
    assert character is not None
    assert character.instructions.type == "constant"


def test_positions_point_at_each_value(tmp_path: Path) -> None:
    positions = _read(tmp_path, DESIGN_EXAMPLE).positions
    assert positions[()] == Position(1, 1)
    assert positions[("name",)] == Position(2, 18)
    assert positions[("voice",)] == Position(5, 16)
    assert positions[("voice", "path_on_server")] == Position(7, 23)
    assert positions[("instructions", "text")] == Position(13, 9)
    assert dict(positions)[("good",)] == Position(3, 8)


def test_list_items_have_positions_by_index(tmp_path: Path) -> None:
    document = _read(tmp_path, 'COMMENT = [\n    "a",\n    ["b", {"c": 1}],\n]\n')
    assert document.positions[("comment", 0)] == Position(2, 5)
    assert document.positions[("comment", 1)] == Position(3, 5)
    assert document.positions[("comment", 1, 1, "c")] == Position(3, 17)


def test_tuples_become_lists(tmp_path: Path) -> None:
    document = _read(tmp_path, 'COMMENT = (1, (2, "a"), [()])\n')
    assert document.fields["comment"] == [1, [2, "a"], [[]]]
    assert type(document.fields["comment"]) is list


def test_implicit_concatenation_is_one_string(tmp_path: Path) -> None:
    document = _read(tmp_path, 'COMMENT = (\n    "one "\n    "two"\n)\n')
    assert document.fields == {"comment": "one two"}
    assert document.positions[("comment",)] == Position(2, 5)


@pytest.mark.parametrize(
    ("source", "value"),
    [("-1", -1), ("-2.5", -2.5), ("+3", 3), ("- 4", -4), ("[-1, +0.5]", [-1, 0.5])],
)
def test_unary_sign_on_numbers_is_a_literal(tmp_path: Path, source: str, value: object) -> None:
    document = _read(tmp_path, f"COMMENT = {source}\n")
    assert document.diagnostics == ()
    assert document.fields == {"comment": value}


def test_scalars_of_every_allowed_kind(tmp_path: Path) -> None:
    text = 'COMMENT = {"s": "x", "f": 1.5, "t": True, "n": None, "e": 1e3, "h": 0x10}\n'
    document = _read(tmp_path, text)
    assert document.diagnostics == ()
    assert document.fields["comment"] == {
        "s": "x",
        "f": 1.5,
        "t": True,
        "n": None,
        "e": 1000.0,
        "h": 16,
    }


def test_annotated_assignment_is_read_without_evaluating_the_annotation(tmp_path: Path) -> None:
    text = (
        'CHARACTER_NAME: str = "Charles"\n'
        "GOOD: typing.Final[bool] = True\n"
        'COMMENT: str | None = "x"\n'
        'VOICE_SOURCE: dict[str, "Undefined"] = {"source_type": "file", "path_on_server": "a"}\n'
        + INSTRUCTIONS
    )
    character, diagnostics = _load(tmp_path, text)
    assert diagnostics == ()
    assert character is not None
    assert character.good is True


def test_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    character, diagnostics = _load(tmp_path, "\ufeff" + DESIGN_EXAMPLE)
    assert diagnostics == ()
    assert character is not None


def test_comments_and_blank_lines_are_ignored(tmp_path: Path) -> None:
    document = _read(tmp_path, "# a comment\n\nGOOD = False  # trailing\n\n")
    assert document.diagnostics == ()
    assert document.fields == {"good": False}


# -- what is refused, and exactly where ----------------------------------------------------

REFUSED = [
    # statements
    ("import os\n", "CHR102", 1, 1),
    ("GOOD = True\nfrom pathlib import Path\n", "CHR102", 2, 1),
    ("from . import sibling\n", "CHR102", 1, 1),
    ("class PromptGenerator:\n    pass\n", "CHR103", 1, 1),
    ("class QuizPromptGenerator:\n    pass\n", "CHR103", 1, 1),
    ("class Quiz(PromptGenerator):\n    pass\n", "CHR103", 1, 1),
    ("class Quiz(base.PromptGenerator):\n    pass\n", "CHR103", 1, 1),
    ("class Helper:\n    pass\n", "CHR101", 1, 1),
    ("def make():\n    return 1\n", "CHR101", 1, 1),
    ("async def make():\n    return 1\n", "CHR101", 1, 1),
    ("GOOD = True\n@decorate\ndef make():\n    pass\n", "CHR101", 3, 1),
    ("if __name__ == '__main__':\n    pass\n", "CHR101", 1, 1),
    ("for x in []:\n    pass\n", "CHR101", 1, 1),
    ("while False:\n    pass\n", "CHR101", 1, 1),
    ("with ctx:\n    pass\n", "CHR101", 1, 1),
    ("try:\n    pass\nexcept Exception:\n    pass\n", "CHR101", 1, 1),
    ("match x:\n    case 1:\n        pass\n", "CHR101", 1, 1),
    ("GOOD = True\nprint(GOOD)\n", "CHR101", 2, 1),
    ("GOOD = True\nGOOD += 1\n", "CHR101", 2, 1),
    ("del GOOD\n", "CHR101", 1, 1),
    ("pass\n", "CHR101", 1, 1),
    ("assert True\n", "CHR101", 1, 1),
    ("raise SystemExit\n", "CHR101", 1, 1),
    ("global GOOD\n", "CHR101", 1, 1),
    ('"""Docstring."""\n"A second bare string."\n', "CHR101", 2, 1),
    ("GOOD: bool\n", "CHR101", 1, 1),
    # values
    ('COMMENT = open("x")\n', "CHR104", 1, 11),
    ("COMMENT = os\n", "CHR104", 1, 11),
    ("COMMENT = os.sep\n", "CHR104", 1, 11),
    ('COMMENT = "a" + "b"\n', "CHR104", 1, 11),
    ("GOOD = True and False\n", "CHR104", 1, 8),
    ("GOOD = 1 < 2\n", "CHR104", 1, 8),
    ("GOOD = 1 if X else 2\n", "CHR104", 1, 8),
    ("GOOD = -True\n", "CHR104", 1, 8),
    ("GOOD = --1\n", "CHR104", 1, 8),
    ("GOOD = not 1\n", "CHR104", 1, 8),
    ("GOOD = ~1\n", "CHR104", 1, 8),
    ('COMMENT = [x for x in "ab"]\n', "CHR104", 1, 11),
    ('COMMENT = {k: 1 for k in "ab"}\n', "CHR104", 1, 11),
    ('COMMENT = (x for x in "ab")\n', "CHR104", 1, 11),
    ("COMMENT = lambda: 1\n", "CHR104", 1, 11),
    ('COMMENT = "ab"[0]\n', "CHR104", 1, 11),
    ('COMMENT = ["a", *X]\n', "CHR104", 1, 17),
    ("COMMENT = {1, 2}\n", "CHR104", 1, 11),
    ("COMMENT = (X := 1)\n", "CHR104", 1, 12),
    ("COMMENT = await x\n", "CHR104", 1, 11),
    ("COMMENT = (yield)\n", "CHR104", 1, 12),
    ('COMMENT = b"bytes"\n', "CHR104", 1, 11),
    ("COMMENT = ...\n", "CHR104", 1, 11),
    ("COMMENT = 1j\n", "CHR104", 1, 11),
    ('COMMENT = {"a": [1, {"b": f()}]}\n', "CHR104", 1, 27),
    ('COMMENT = f"{x}"\n', "CHR105", 1, 11),
    ('COMMENT = "plain " f"{x}"\n', "CHR105", 1, 11),
    ('COMMENT = ["a", f"b"]\n', "CHR105", 1, 17),
    # targets
    ("good = True\n", "CHR106", 1, 1),
    ("Good = True\n", "CHR106", 1, 1),
    ("_GOOD = True\n", "CHR106", 1, 1),
    ("A, B = 1, 2\n", "CHR106", 1, 1),
    ("[A] = [1]\n", "CHR106", 1, 1),
    ("X.Y = 1\n", "CHR106", 1, 1),
    ("X[0] = 1\n", "CHR106", 1, 1),
    ("GOOD = COMMENT = True\n", "CHR106", 1, 8),
    ("__all__ = []\n", "CHR106", 1, 1),
    # duplicates
    ("GOOD = True\nGOOD = False\n", "CHR107", 2, 1),
    ('COMMENT = {"a": 1,\n           "a": 2}\n', "CHR107", 2, 12),
    # dictionary keys
    ('COMMENT = {1: "a"}\n', "CHR108", 1, 12),
    ('COMMENT = {None: "a"}\n', "CHR108", 1, 12),
    ('COMMENT = {("a",): "a"}\n', "CHR108", 1, 12),
    ('COMMENT = {K: "a"}\n', "CHR108", 1, 12),
    ('COMMENT = {"a": 1, **BASE}\n', "CHR108", 1, 22),
    # unknown fields
    ('CHARACTR_NAME = "x"\n', "CHR109", 1, 1),
    ('NAME = "x"\n', "CHR109", 1, 1),
    ('COLOUR = "x"\n', "CHR109", 1, 1),
    # strings that are not text
    ('COMMENT = "\\ud800"\n', "CHR110", 1, 11),
    ('COMMENT = {"\\udfff": 1}\n', "CHR110", 1, 12),
]


@pytest.mark.parametrize(("source", "code", "line", "col"), REFUSED)
def test_refused_construct_has_its_code_and_position(
    tmp_path: Path, source: str, code: str, line: int, col: int
) -> None:
    document = _read(tmp_path, source)
    assert _found(document) == [(code, line, col)]


@pytest.mark.parametrize(("source", "code", "line", "col"), REFUSED)
def test_refused_construct_means_no_character(
    tmp_path: Path, source: str, code: str, line: int, col: int
) -> None:
    character, diagnostics = _load(tmp_path, source + VOICE + INSTRUCTIONS)
    assert character is None
    assert (code, line, col) in [(d.code, d.line, d.col) for d in diagnostics]


def test_import_is_chr102_with_sidecar_hint(tmp_path: Path) -> None:
    (found,) = _read(tmp_path, "import os, random\n").diagnostics
    assert "`os`" in found.message
    assert "`random`" in found.message
    assert "legacy executable character file" in found.message
    assert "unmute-server convert <file>" in found.message


def test_prompt_generator_class_is_chr103_with_sidecar_hint(tmp_path: Path) -> None:
    (found,) = _read(tmp_path, "class PromptGenerator:\n    pass\n").diagnostics
    assert found.code == "CHR103"
    assert "PromptGenerator" in found.message
    assert "add a TOML sidecar with `unmute-server convert <file>`" in found.message


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("def make():\n    pass\n", "function definition `make`"),
        ("if X:\n    pass\n", "if statement"),
        ("for x in y:\n    pass\n", "for loop"),
        ("class Helper:\n    pass\n", "class definition `Helper`"),
        ("'docstring'\n'again'\n", "only the first statement may be a docstring"),
    ],
)
def test_statement_message_names_the_statement(tmp_path: Path, source: str, words: str) -> None:
    (found,) = _read(tmp_path, source).diagnostics
    assert words in found.message


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ('COMMENT = open("x").read()\n', 'function call `open("x").read(...)`'),
        ("COMMENT = os.getcwd()\n", "function call `os.getcwd(...)`"),
        ("COMMENT = os\n", "name `os`"),
        ("COMMENT = os.sep\n", "attribute `os.sep`"),
        ("COMMENT = 1 + 2\n", "operator `1 + 2`"),
        ("COMMENT = [x for x in y]\n", "list comprehension"),
        ('COMMENT = b"x"\n', "bytes literal"),
        ('COMMENT = f"{x}"\n', "template"),
    ],
)
def test_value_message_names_the_construct(tmp_path: Path, source: str, words: str) -> None:
    (found,) = _read(tmp_path, source).diagnostics
    assert words in found.message


@pytest.mark.parametrize(
    ("source", "hint"),
    [
        ('CHARACTR_NAME = "x"\n', "did you mean `CHARACTER_NAME`?"),
        ('NAME = "x"\n', "did you mean `CHARACTER_NAME`?"),
        ("VOICE = {}\n", "did you mean `VOICE_SOURCE`?"),
        ("INSTRUCTION = {}\n", "did you mean `INSTRUCTIONS`?"),
        ('COLOUR = "x"\n', "the fields are `CHARACTER_NAME`, `GOOD`"),
        ('character_name = "x"\n', "did you mean `CHARACTER_NAME`?"),
        ('comment = "x"\n', "did you mean `COMMENT`?"),
    ],
)
def test_unknown_or_misspelt_field_names_a_python_spelling(
    tmp_path: Path, source: str, hint: str
) -> None:
    (found,) = _read(tmp_path, source).diagnostics
    assert hint in found.message


def test_duplicate_mentions_the_first_line(tmp_path: Path) -> None:
    document = _read(tmp_path, 'COMMENT = "a"\nGOOD = True\nCOMMENT = "b"\n')
    (found,) = document.diagnostics
    assert found.code == "CHR107"
    assert "line 1" in found.message
    assert document.fields["comment"] == "a"


def test_every_problem_is_reported_in_source_order(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        import os
        COMMENT = {"b": f(), 1: "x", "c": [os]}
        def helper():
            pass
        GOOD = f"{x}"
        """
    )
    assert _found(_read(tmp_path, text)) == [
        ("CHR102", 1, 1),
        ("CHR104", 2, 17),
        ("CHR108", 2, 22),
        ("CHR104", 2, 36),
        ("CHR101", 3, 1),
        ("CHR105", 5, 8),
    ]


def test_a_rejected_value_is_not_looked_into(tmp_path: Path) -> None:
    document = _read(tmp_path, "COMMENT = f(os.path, g(), [h()])\nX.Y = f(g())\n")
    assert _found(document) == [("CHR104", 1, 11), ("CHR106", 2, 1)]


def test_field_with_a_problem_inside_is_left_out_of_fields(tmp_path: Path) -> None:
    document = _read(tmp_path, 'GOOD = True\nCOMMENT = ["a", os]\n')
    assert document.fields == {"good": True}


def test_annotation_with_code_is_refused_at_the_code(tmp_path: Path) -> None:
    assert _found(_read(tmp_path, "GOOD: open('x') = True\n")) == [("CHR104", 1, 7)]
    assert _found(_read(tmp_path, "GOOD: bool | (lambda: 1) = True\n")) == [("CHR104", 1, 15)]


def test_columns_count_characters_not_bytes(tmp_path: Path) -> None:
    document = _read(tmp_path, 'COMMENT = {"été": "ü", "ß": os}\n')
    assert _found(document) == [("CHR104", 1, 29)]
    document = _read(tmp_path, 'COMMENT = {"été": "ü"}\n')
    assert document.positions[("comment", "été")] == Position(1, 19)


# -- positions reach validation errors -----------------------------------------------------


def test_bad_instruction_type_points_at_its_value(tmp_path: Path) -> None:
    text = 'CHARACTER_NAME = "Charles"\n' + VOICE
    text += 'INSTRUCTIONS = {\n    "type": "constnat",\n    "text": "x",\n}\n'
    character, diagnostics = _load(tmp_path, text)
    assert character is None
    assert [(d.code, d.line, d.col) for d in diagnostics] == [("CHR301", 4, 13)]
    assert "constnat" in diagnostics[0].message


def test_wrong_value_type_points_at_the_value(tmp_path: Path) -> None:
    text = 'CHARACTER_NAME = "Charles"\nGOOD = "yes"\n' + VOICE + INSTRUCTIONS
    _character, diagnostics = _load(tmp_path, text)
    assert [(d.code, d.line, d.col) for d in diagnostics] == [("CHR301", 2, 8)]


def test_nested_wrong_value_points_at_the_nested_value(tmp_path: Path) -> None:
    text = 'CHARACTER_NAME = "Charles"\n' + INSTRUCTIONS
    text += 'VOICE_SOURCE = {\n    "source_type": "file",\n    "path_on_server": 3,\n}\n'
    _character, diagnostics = _load(tmp_path, text)
    assert [(d.code, d.line, d.col) for d in diagnostics] == [("CHR301", 5, 23)]


def test_missing_field_points_at_the_file(tmp_path: Path) -> None:
    _character, diagnostics = _load(tmp_path, VOICE + INSTRUCTIONS)
    assert [(d.code, d.line, d.col) for d in diagnostics] == [("CHR300", 1, 1)]


def test_unknown_nested_key_points_at_its_value(tmp_path: Path) -> None:
    text = 'CHARACTER_NAME = "Charles"\n' + VOICE
    text += 'INSTRUCTIONS = {"type": "constant", "text": "x", "txet": "y"}\n'
    _character, diagnostics = _load(tmp_path, text)
    assert [(d.code, d.line, d.col) for d in diagnostics] == [("CHR303", 3, 58)]


# -- limits --------------------------------------------------------------------------------


def test_nesting_over_the_limit_is_chr005_at_the_container_that_exceeds(tmp_path: Path) -> None:
    limits = LoadLimits(max_nesting_depth=2)
    assert _read(tmp_path, 'COMMENT = {"a": {"b": 1}}\n', limits).diagnostics == ()
    document = _read(tmp_path, 'COMMENT = {"a": {"b": [1]}}\n', limits)
    assert _found(document) == [("CHR005", 1, 23)]


def test_deep_but_parseable_literal_is_chr005_once(tmp_path: Path) -> None:
    depth = 150  # below the parser's own limit of 200 brackets
    document = _read(tmp_path, "COMMENT = " + "[" * depth + "]" * depth + "\n")
    limit = DEFAULT_LIMITS.max_nesting_depth
    assert _found(document) == [("CHR005", 1, 11 + limit)]


@pytest.mark.parametrize(
    "text",
    [
        "COMMENT = " + "[" * 5000 + "]" * 5000 + "\n",
        "COMMENT = " + "(" * 5000 + "1" + ")" * 5000 + "\n",
        "COMMENT = " + "{'a': " * 5000 + "1" + "}" * 5000 + "\n",
        "COMMENT = " + "-" * 100_000 + "1\n",
        "COMMENT = " + "1 + " * 100_000 + "1\n",
        "COMMENT = " + "not " * 100_000 + "1\n",
    ],
    ids=["brackets", "parentheses", "dicts", "unary", "binary", "not"],
)
def test_nesting_that_defeats_the_parser_is_a_diagnostic(tmp_path: Path, text: str) -> None:
    limits = LoadLimits(max_file_bytes=1024 * 1024)
    document = _read(tmp_path, text, limits)
    assert [found.code for found in document.diagnostics] in (["CHR005"], ["CHR100"])
    _character, diagnostics = _load(tmp_path, text, limits)
    assert diagnostics


def test_string_over_the_limit_is_chr006_at_the_string(tmp_path: Path) -> None:
    limits = LoadLimits(max_string_length=5)
    assert _read(tmp_path, 'COMMENT = "12345"\n', limits).diagnostics == ()
    document = _read(tmp_path, 'COMMENT = ["ok", "123456"]\n', limits)
    assert _found(document) == [("CHR006", 1, 18)]
    assert "6 characters" in document.diagnostics[0].message


def test_key_over_the_limit_is_chr006_at_the_key(tmp_path: Path) -> None:
    document = _read(tmp_path, 'COMMENT = {"123456": 1}\n', LoadLimits(max_string_length=5))
    assert _found(document) == [("CHR006", 1, 12)]


def test_fifty_megabyte_file_is_chr001(tmp_path: Path) -> None:
    big = b'COMMENT = "' + b"x" * (50 * 1024 * 1024) + b'"\n'
    character, diagnostics = _load(tmp_path, big)
    assert character is None
    assert [found.code for found in diagnostics] == ["CHR001"]


# -- bytes and lines -----------------------------------------------------------------------


def test_nul_byte_is_chr100_at_the_nul(tmp_path: Path) -> None:
    document = _read(tmp_path, 'GOOD = True\nCOMMENT = "a"\0\n')
    assert _found(document) == [("CHR100", 2, 14)]
    character, diagnostics = _load(tmp_path, b'GOOD = True\nCOMMENT = "a\x00"\n')
    assert character is None
    assert [found.code for found in diagnostics] == ["CHR100"]


def test_syntax_error_keeps_the_parser_position_and_message(tmp_path: Path) -> None:
    document = _read(tmp_path, 'GOOD = True\nCOMMENT = "été" )\n')
    assert _found(document) == [("CHR100", 2, 17)]
    assert "unmatched ')'" in document.diagnostics[0].message


def test_crlf_line_endings_keep_line_numbers(tmp_path: Path) -> None:
    text = 'GOOD = True\r\nCOMMENT = (\r\n    "a",\r\n    os,\r\n)\r\n'
    assert _found(_read(tmp_path, text)) == [("CHR104", 4, 5)]
    character, diagnostics = _load(tmp_path, DESIGN_EXAMPLE.replace("\n", "\r\n"))
    assert diagnostics == ()
    assert character is not None


def test_lone_carriage_returns_are_line_ends_too(tmp_path: Path) -> None:
    document = _read(tmp_path, 'GOOD = True\rCOMMENT = "é"\rVOICE = 1\r')
    assert _found(document) == [("CHR109", 3, 1)]


def test_syntax_error_on_crlf_file_has_the_right_line(tmp_path: Path) -> None:
    assert _found(_read(tmp_path, "GOOD = True\r\n\r\nCOMMENT = (\r\n")) == [("CHR100", 3, 11)]


# -- it never raises -----------------------------------------------------------------------


def _well_formed(document: RawDocument) -> None:
    for found in document.diagnostics:
        assert found.code in CODES
        assert found.line >= 0
        assert found.col >= 0
    assert document.positions[()] == Position(1, 1)


@settings(max_examples=300)
@given(text=st.text())
def test_any_text_gives_a_document(text: str) -> None:
    _well_formed(read_python("pack/any.py", text, DEFAULT_LIMITS))


@settings(max_examples=300)
@given(data=st.binary())
def test_any_bytes_give_a_result(data: bytes) -> None:
    result = parse_character_file("pack/any.py", data, DEFAULT_LIMITS)
    assert result.character is not None or result.diagnostics


_python_like = st.lists(
    st.sampled_from(
        [
            "COMMENT",
            "GOOD",
            " = ",
            ": int = ",
            "[",
            "]",
            "{",
            "}",
            "(",
            ")",
            ", ",
            ": ",
            '"s"',
            "1",
            "-",
            "f",
            "x",
            "\n",
            "\r\n",
            "import ",
            "class ",
            "é",
            "'''",
            "*",
            "**",
            "\0",
            "\\",
            "\t",
        ]
    )
).map("".join)


@pytest.mark.filterwarnings("ignore:invalid escape sequence")  # ast.parse warns, as it should
@settings(max_examples=500)
@given(text=_python_like)
def test_python_like_text_gives_a_document(text: str) -> None:
    document = read_python("pack/any.py", text, LoadLimits(max_nesting_depth=2))
    _well_formed(document)
    for path in document.positions:
        position = document.positions[path]
        assert position.line >= 1
        assert position.col >= 1


_literals = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@settings(max_examples=300)
@given(value=_literals)
def test_any_literal_written_with_repr_reads_back_equal(value: object) -> None:
    document = read_python("pack/any.py", f"COMMENT = {value!r}\n", DEFAULT_LIMITS)
    assert document.diagnostics == ()
    assert document.fields == {"comment": value}
