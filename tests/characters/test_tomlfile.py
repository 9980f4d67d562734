"""The TOML reader: syntax errors, positions for validation errors, limits, and robustness."""

from __future__ import annotations

import string
import textwrap

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from unmute_server.characters.charfile import parse_character_file
from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import FieldPath, Position
from unmute_server.characters.limits import DEFAULT_LIMITS, LoadLimits
from unmute_server.characters.model import Character
from unmute_server.characters.tomlfile import key_positions, read_toml
from unmute_server.characters.validate import validate_document

VALID = textwrap.dedent(
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
    text = "You are Charles, a French general. Answer in short sentences."
    """
)


def _load(
    text: str, limits: LoadLimits = DEFAULT_LIMITS
) -> tuple[Character | None, tuple[Diagnostic, ...]]:
    return validate_document(read_toml("pack/charles.toml", text, limits))


def _only(diagnostics: tuple[Diagnostic, ...]) -> Diagnostic:
    assert len(diagnostics) == 1, diagnostics
    return diagnostics[0]


def test_valid_file_with_schema_directive_loads() -> None:
    character, diagnostics = _load(VALID)
    assert diagnostics == ()
    assert character is not None
    assert character.name == "Charles"
    assert character.good is True
    assert character.voice.path_on_server == "voices/charles.wav"
    assert character.instructions.type == "constant"


@pytest.mark.parametrize(
    ("text", "line", "col", "words"),
    [
        ('name = "a"\nb = [1,\n  2,, 3]\n', 3, 5, "invalid value"),
        ('name = "a"\n[voice\n', 2, 7, "expected ']'"),
        ("name = 'x\ny'\n", 1, 10, "invalid character"),
        ('name = "a"\ngood = true false\n', 2, 13, "expected newline"),
        ('name = "a"\n\n  = 1\n', 3, 3, "invalid statement"),
        ('name = "a"\nx = ', 2, 5, "invalid value"),
        ('name = "a"\nname = "b"', 2, 11, "cannot overwrite"),
    ],
)
def test_syntax_error_is_chr200_at_tomllib_line_and_column(
    text: str, line: int, col: int, words: str
) -> None:
    character, diagnostics = _load(text)
    assert character is None
    diagnostic = _only(diagnostics)
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("CHR200", line, col)
    assert words in diagnostic.message.lower()
    assert "(at " not in diagnostic.message


def _replace(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new)


def test_wrong_type_of_top_level_key_points_at_its_line() -> None:
    _, diagnostics = _load(_replace("good = true", 'good = "yes"'))
    diagnostic = _only(diagnostics)
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("CHR301", 3, 1)
    assert "'good'" in diagnostic.message


def test_voice_table_key_error_points_at_that_key() -> None:
    _, diagnostics = _load(_replace('path_on_server = "voices/charles.wav"', 'path_on_server = ""'))
    diagnostic = _only(diagnostics)
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("CHR301", 8, 1)
    assert "voice.path_on_server" in diagnostic.message


def test_missing_table_key_points_at_the_table_header() -> None:
    _, diagnostics = _load(_replace('path_on_server = "voices/charles.wav"\n', ""))
    diagnostic = _only(diagnostics)
    assert (diagnostic.code, diagnostic.line) == ("CHR300", 6)
    assert "voice.path_on_server" in diagnostic.message


def test_dotted_key_error_points_at_its_last_part() -> None:
    text = textwrap.dedent(
        """\
        name = "Ada"
        voice.source_type = "file"
        voice.path_on_server = 3
        instructions.type = "smalltalk"
        """
    )
    diagnostic = _only(_load(text)[1])
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("CHR301", 3, 7)
    assert "voice.path_on_server" in diagnostic.message


def test_instructions_key_error_points_at_that_key() -> None:
    _, diagnostics = _load(_replace('type = "constant"', 'type = "monologue"'))
    diagnostic = _only(diagnostics)
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("CHR301", 11, 1)
    assert "monologue" in diagnostic.message


def test_unknown_placeholder_points_at_the_template_text() -> None:
    text = _replace('type = "constant"', 'type = "template"').replace("French", "{nation}")
    diagnostic = _only(_load(text)[1])
    assert (diagnostic.code, diagnostic.line) == ("CHR302", 12)
    assert "{nation}" in diagnostic.message


def test_inline_table_key_error_points_inside_the_inline_table() -> None:
    text = textwrap.dedent(
        """\
        name = "Ada"
        voice = { source_type = "file", path_on_server = false }
        instructions = { type = "news" }
        """
    )
    diagnostic = _only(_load(text)[1])
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("CHR301", 2, 33)


@pytest.mark.parametrize(
    ("key", "hint"),
    [("nmae", "name"), ("Comment", "comment"), ("CHARACTER_NAME", "name"), ("gods", "good")],
)
def test_unknown_top_level_key_is_chr303_with_did_you_mean_at_its_line(key: str, hint: str) -> None:
    text = VALID.replace('comment = "', f'{key} = "')
    if key in ("nmae", "CHARACTER_NAME"):
        text = text.replace('name = "Charles"', "")
    diagnostics = _load(text)[1]
    unknown = [diagnostic for diagnostic in diagnostics if diagnostic.code == "CHR303"]
    diagnostic = _only(tuple(unknown))
    assert (diagnostic.line, diagnostic.col) == (4, 1)
    assert diagnostic.message == f"unknown field '{key}'; did you mean '{hint}'?"


def test_unknown_voice_key_names_the_table_and_suggests() -> None:
    text = _replace("path_on_server", "path_on_server = 'x'\npath_on_sever")
    diagnostic = _only(_load(text)[1])
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("CHR303", 9, 1)
    assert "'voice.path_on_sever'" in diagnostic.message
    assert "did you mean 'path_on_server'?" in diagnostic.message


def test_multiline_strings_do_not_confuse_positions() -> None:
    text = textwrap.dedent(
        '''\
        name = "Ada"
        comment = """
        [instructions]
        good = 1
        """
        note = \'\'\'
        good = 2\'\'\'
        good = "no"

        [voice]
        source_type = "file"
        path_on_server = "a.wav"
        [instructions]
        type = "news"
        '''
    )
    diagnostics = _load(text)[1]
    by_code = {diagnostic.code: diagnostic for diagnostic in diagnostics}
    assert (by_code["CHR303"].line, by_code["CHR303"].col) == (6, 1)
    assert (by_code["CHR301"].line, by_code["CHR301"].col) == (8, 1)


def test_quoted_keys_and_headers_with_spaces_are_placed() -> None:
    text = 'name = "Ada"\n[ "voice" ]\n"source_type" = "file"\n\'path_on_server\' = 1\n'
    text += "[instructions]\ntype = 'news'\n"
    diagnostic = _only(_load(text)[1])
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("CHR301", 4, 1)


def test_date_value_is_chr301_at_its_key() -> None:
    text = _replace('comment = "Voice cloned from a historical recording."', "comment = 2026-11-24")
    character, diagnostics = _load(text)
    assert character is None
    diagnostic = _only(diagnostics)
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("CHR301", 4, 1)
    assert "date" in diagnostic.message


def test_string_over_limit_is_chr006_at_its_key() -> None:
    limits = LoadLimits(max_string_length=20)
    character, diagnostics = _load(VALID, limits)
    assert character is None
    assert [(d.code, d.line) for d in diagnostics] == [("CHR006", 4), ("CHR006", 12)]
    assert "'comment' is 41 characters long; the limit is 20" in diagnostics[0].message


def test_key_over_limit_is_chr006() -> None:
    limits = LoadLimits(max_string_length=20)
    text = "name = 'Ada'\n" + "k" * 21 + " = 1\n"
    diagnostic = _only(read_toml("a.toml", text, limits).diagnostics)
    assert (diagnostic.code, diagnostic.line) == ("CHR006", 2)


def test_nesting_over_limit_is_chr005_at_the_deep_key() -> None:
    limits = LoadLimits(max_nesting_depth=2)
    text = VALID + "\n[voice.sound_instance.deeper]\nx = 1\n"
    document = read_toml("a.toml", text, limits)
    diagnostic = _only(document.diagnostics)
    assert (diagnostic.code, diagnostic.line) == ("CHR005", 14)
    assert "'voice.sound_instance.deeper' is nested 3 levels deep; the limit is 2" in (
        diagnostic.message
    )


def test_nesting_at_limit_is_accepted() -> None:
    limits = LoadLimits(max_nesting_depth=2)
    text = VALID + "\n[voice.sound_instance]\nx = 1\n"
    assert read_toml("a.toml", text, limits).diagnostics == ()


def test_nesting_too_deep_for_the_parser_is_chr005_not_a_crash() -> None:
    text = "name = " + "[" * 60_000 + "]" * 60_000 + "\n"
    diagnostic = _only(read_toml("a.toml", text, DEFAULT_LIMITS).diagnostics)
    assert diagnostic.code == "CHR005"


def test_deep_inline_arrays_within_the_parser_but_over_the_limit_are_chr005() -> None:
    text = "name = 'a'\nx = " + "[" * 40 + "]" * 40 + "\n"
    diagnostic = _only(read_toml("a.toml", text, DEFAULT_LIMITS).diagnostics)
    assert (diagnostic.code, diagnostic.line) == ("CHR005", 2)


def test_array_of_tables_elements_are_indexed() -> None:
    text = "[[a]]\nx = 1\n[[a]]\ny = 1\n[[a.b]]\nz = [1, {w = 2}]\n"
    positions = key_positions(text)
    assert positions[("a", 1, "y")].line == 4
    assert positions[("a", 1, "b", 0, "z")].line == 6
    assert positions[("a", 1, "b", 0, "z", 1)].col == 9
    assert positions[("a", 1, "b", 0, "z", 1, "w")].col == 10
    assert ("a", 1, "b", 0, "z", 0) not in positions  # scalar items report at their array


# --- properties ---------------------------------------------------------------------------

_CHARS = st.characters(codec="utf-8")  # any character but a surrogate

_keys = st.text(alphabet=_CHARS, min_size=0, max_size=8) | st.text(
    alphabet=string.ascii_letters + "_-", min_size=1, max_size=8
)
_scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(alphabet=_CHARS, max_size=20),
)
_tables = st.recursive(
    st.dictionaries(_keys, _scalars, max_size=4),
    lambda children: st.dictionaries(
        _keys, st.one_of(_scalars, children, st.lists(children | _scalars, max_size=3)), max_size=4
    ),
    max_leaves=25,
)


def _key_paths(data: object, prefix: FieldPath = ()) -> list[FieldPath]:
    paths: list[FieldPath] = []
    if isinstance(data, dict):
        for key, value in data.items():
            paths.append((*prefix, key))
            paths.extend(_key_paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            paths.extend(_key_paths(value, (*prefix, index)))
    return paths


@settings(max_examples=300)
@given(data=_tables, multiline=st.booleans())
def test_every_key_of_written_toml_gets_a_position(
    data: dict[str, object], multiline: bool
) -> None:
    text = tomli_w.dumps(data, multiline_strings=multiline)
    positions = key_positions(text)
    lines = text.split("\n")
    for path in _key_paths(data):
        assert path in positions, (path, text)
        key = path[-1]
        if isinstance(key, str) and key and set(key) <= set(string.ascii_letters + "_-"):
            position = positions[path]
            assert lines[position.line - 1][position.col - 1 :].startswith(key), (path, text)


@settings(max_examples=300)
@given(text=st.text())
def test_any_text_gives_a_result_never_an_exception(text: str) -> None:
    result = parse_character_file("pack/any.toml", text.encode("utf-8", "surrogatepass"))
    assert (result.character is None) == any(d.is_error for d in result.diagnostics)


@settings(max_examples=300)
@given(data=st.binary(max_size=2000))
def test_any_bytes_give_a_result_never_an_exception(data: bytes) -> None:
    result = parse_character_file("pack/any.toml", data)
    assert (result.character is None) == any(d.is_error for d in result.diagnostics)


@settings(max_examples=200)
@given(
    text=st.text(alphabet="[]{}\"'=.,#\n abc\\", max_size=60),
)
def test_toml_punctuation_soup_gives_a_result_never_an_exception(text: str) -> None:
    document = read_toml("soup.toml", text, DEFAULT_LIMITS)
    for diagnostic in document.diagnostics:
        assert diagnostic.line >= 0
        assert diagnostic.col >= 0


def test_crlf_comments_escaped_newlines_and_tricky_strings_do_not_shift_keys() -> None:
    text = (
        "a = 'x # \"y'  # comment\r\n"
        'b = """q \\\r\n  r"""\r\n'
        "[t]\r\n"
        '\tc . "d.e" = { f = [ "]" , "}" ] , g.h = 1 }\r\n'
        "1-2 = 3\r\n"
        "z = 1979-05-27 07:32:00 # a date with a space\r\n"
        "w = 2\r\n"
    )
    positions = key_positions(text)
    assert positions[("b",)] == Position(2, 1)
    assert positions[("t", "c", "d.e")] == Position(5, 6)
    assert positions[("t", "c", "d.e", "g", "h")] == Position(5, 38)
    assert positions[("t", "1-2")] == Position(6, 1)
    assert positions[("t", "w")] == Position(8, 1)


#: How a number is placed in a document: (text before it, text after it, its line, its column).
_NUMBER_PLACES = {
    "top": ('name = "A"\n\ngood = ', "\n", 3, 8),
    "array": ('name = "A"\ncomment = [1, ', "]\n", 2, 15),
    "inline": ('name = "A"\r\nvoice = { x = ', " }\r\n", 2, 15),
    "table": ('name = "A"\n[voice]\nx  =\t', "\n", 3, 6),
    "after_a_string_of_digits": ('comment = "' + "1" * 5000 + '"\ngood = ', "\n", 2, 8),
}


@settings(max_examples=60)
@given(
    digits=st.integers(min_value=1, max_value=6000),
    sign=st.sampled_from(["", "+", "-"]),
    place=st.sampled_from(sorted(_NUMBER_PLACES)),
)
def test_integer_too_long_for_python_is_chr200_at_the_number_never_a_crash(
    digits: int, sign: str, place: str
) -> None:
    """tomllib accepts any integer and calls ``int()``, which refuses more than
    ``sys.get_int_max_str_digits()`` decimal digits with a ``ValueError``."""
    before, after, line, col = _NUMBER_PLACES[place]
    text = before + sign + "7" * digits + after
    result = parse_character_file("pack/n.toml", text.encode())
    assert result.character is None
    if digits <= 4300:
        assert "CHR200" not in {found.code for found in result.diagnostics}
    else:
        found = _only(result.diagnostics)
        assert (found.code, found.line, found.col) == ("CHR200", line, col)
        assert "more than 4300 digits" in found.message
