"""One file's bytes to a character or diagnostics: the checks made before any reader runs
(size, emptiness, UTF-8), each with its code and position, for both file forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from unmute_server.characters.charfile import parse_character_file
from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.limits import LoadLimits

VALID_TOML = (
    'name = "A"\n[voice]\nsource_type = "file"\npath_on_server = "v.wav"\n'
    '[instructions]\ntype = "news"\n'
)
VALID_PYTHON = (
    'CHARACTER_NAME = "A"\n'
    'VOICE_SOURCE = {"source_type": "file", "path_on_server": "v.wav"}\n'
    'INSTRUCTIONS = {"type": "news"}\n'
)


def _parse(tmp_path: Path, name: str, data: bytes, limits: LoadLimits | None = None) -> list[str]:
    """Write ``data`` to a real file, read it back and parse it; ``code@line:col`` each."""
    target = tmp_path / name
    target.write_bytes(data)
    result = parse_character_file(name, target.read_bytes(), limits or LoadLimits())
    if result.diagnostics:
        assert result.character is None
    return [f"{found.code}@{found.line}:{found.col}" for found in result.diagnostics]


@pytest.mark.parametrize("name", ["a.py", "a.toml"])
@pytest.mark.parametrize(
    "data", [b"", b" ", b"\n", b"\r\n\t \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n"]
)
def test_empty_or_blank_file_is_chr007_for_the_whole_file(
    tmp_path: Path, name: str, data: bytes
) -> None:
    assert _parse(tmp_path, name, data) == ["CHR007@0:0"]


@pytest.mark.parametrize("name", ["a.py", "a.toml"])
def test_file_over_the_size_limit_is_chr001_before_anything_else(tmp_path: Path, name: str) -> None:
    limits = LoadLimits(max_file_bytes=10)
    # Over the limit and undecodable: the size is checked first, and alone.
    assert _parse(tmp_path, name, b"\xff" * 11, limits) == ["CHR001@0:0"]
    assert _parse(tmp_path, name, b"\n" * 10, limits) == ["CHR007@0:0"]


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"\xff", "1:1"),
        (b'CHARACTER_NAME = "\xe9"\n', "1:19"),
        (b'GOOD = True\nCOMMENT = "\xc3"\n', "2:12"),  # a sequence cut short
        (b'GOOD = True\r\nCOMMENT = "\x80"\r\n', "2:12"),
        (b'GOOD = True\rCOMMENT = "\xfe"\r', "2:12"),  # a lone CR ends a Python line
        (b'COMMENT = "\xc3\xa9\xe2\x82\xac\xff"\n', "1:14"),  # columns count characters
        (b'\xef\xbb\xbfCOMMENT = "\xff"\n', "1:12"),  # the byte order mark is no column
        (b'COMMENT = "ok"\n\n\n"\xc3\xa9\xc3"', "4:3"),
        (b'COMMENT = "\xed\xa0\x80"\n', "1:12"),  # an encoded surrogate is not UTF-8
    ],
)
@pytest.mark.parametrize("suffix", [".py", ".toml"])
def test_undecodable_bytes_are_chr002_at_the_first_bad_byte(
    tmp_path: Path, data: bytes, where: str, suffix: str
) -> None:
    assert _parse(tmp_path, "a" + suffix, data) == [f"CHR002@{where}"]


def test_chr002_message_names_the_byte(tmp_path: Path) -> None:
    target = tmp_path / "a.toml"
    target.write_bytes(b'name = "\xfe"\n')
    (found,) = parse_character_file("a.toml", target.read_bytes()).diagnostics
    assert found.message == "byte 0xfe is not UTF-8"


@pytest.mark.parametrize(("name", "data"), [("a.py", VALID_PYTHON), ("a.toml", VALID_TOML)])
def test_a_byte_order_mark_before_a_valid_file_is_accepted(
    tmp_path: Path, name: str, data: str
) -> None:
    assert _parse(tmp_path, name, b"\xef\xbb\xbf" + data.encode()) == []


def test_a_name_that_is_no_character_file_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not a character file name"):
        parse_character_file("notes.txt", b"name = 'x'\n")


@pytest.mark.parametrize(
    ("suffix", "data", "where"),
    [
        (".toml", VALID_TOML.replace('name = "A"', 'name = "N\u043eva"'), (1, 1)),
        (
            ".py",
            VALID_PYTHON.replace('CHARACTER_NAME = "A"', 'CHARACTER_NAME = "N\u043eva"'),
            (1, 18),
        ),
    ],
)
def test_a_name_mixing_scripts_is_a_chr305_warning_at_the_name(
    suffix: str, data: str, where: tuple[int, int]
) -> None:
    result = parse_character_file("a" + suffix, data.encode("utf-8"))
    assert result.character is not None  # a warning: the character still loads
    assert result.diagnostics == (
        Diagnostic(
            "a" + suffix,
            *where,
            "CHR305",
            "name 'N\u043eva' mixes Cyrillic and Latin letters (Cyrillic: U+043E CYRILLIC "
            "SMALL LETTER O); write it in one script",
        ),
    )


@pytest.mark.parametrize(
    "name",
    [
        "D\u00e9veloppeuse",
        "Professor Quill 2",
        "\u6771\u4eac\u30bf\u30ef\u30fc",  # Han and Katakana: Japanese
        "\u3072\u3089\u304c\u306a\u6f22\u5b57",  # Hiragana and Han: Japanese
        "\ud55c\uad6d\u8a9e",  # Hangul and Han: Korean
        "\u3105\u4e2d",  # Bopomofo and Han
        "\u0391\u03b8\u03b7\u03bd\u03ac",  # Greek with an accent (a combining mark)
        "R2-D2 (\u00e9d.)",
    ],
)
def test_names_in_one_script_or_a_usual_script_mix_are_not_warned(name: str) -> None:
    data = VALID_TOML.replace('name = "A"', f"name = {name!r}".replace("'", '"'))
    result = parse_character_file("a.toml", data.encode("utf-8"))
    assert result.character is not None
    assert result.diagnostics == ()
