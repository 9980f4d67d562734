"""Escaping text from disk for terminals: every control and invisible format character."""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest

from unmute_server.terminal_text import UNSAFE, escape_controls, escape_json_text

UNSAFE_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")


def test_unsafe_holds_every_control_format_separator_and_surrogate_character() -> None:
    """Checked against this Python's Unicode database, so a new format character is caught."""
    every = (chr(code) for code in range(sys.maxunicode + 1))
    missing = [
        c for c in every if unicodedata.category(c) in UNSAFE_CATEGORIES and not UNSAFE.match(c)
    ]
    assert missing == []


def test_unsafe_holds_nothing_printable() -> None:
    """Beyond those categories only code points this Unicode version leaves unassigned (the
    format controls later versions add) are matched: no letter, digit, mark or space."""
    matched = (chr(code) for code in range(sys.maxunicode + 1) if UNSAFE.match(chr(code)))
    others = {unicodedata.category(c) for c in matched} - set(UNSAFE_CATEGORIES)
    assert others <= {"Cn"}


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain name.toml", "plain name.toml"),
        ("café/N\u043eva.toml", "café/N\u043eva.toml"),  # letters of any script stay
        ("a\nb", "a\\nb"),
        ("a\rb\tc", "a\\rb\\tc"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x00\x7f\x9b", "\\x00\\x7f\\x9b"),
        ("\u202egnp\u2066\u2069", "\\u202egnp\\u2066\\u2069"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("line\u2028sep", "line\\u2028sep"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("bad\udcffbyte", "bad\\xffbyte"),  # an undecodable byte, as surrogateescape keeps it
        ("lone\ud800", "lone\\ud800"),
        ("back\\slash", "back\\slash"),
    ],
)
def test_escape_controls_writes_unsafe_characters_as_python_escapes(raw: str, shown: str) -> None:
    assert escape_controls(raw) == shown
    shown.encode("utf-8")  # always printable, whatever the input held


def test_keep_lets_meant_line_breaks_through_and_still_escapes_the_rest() -> None:
    assert escape_controls("one\ntwo\r\n\x1b[31m", keep="\n") == "one\ntwo\\r\n\\x1b[31m"


@pytest.mark.parametrize(
    "value", ["a\nb", "\x1b[2J", "\x7f\x85\x9b", "\u202e\u2066", "\udcff", "\U000e0041", "é"]
)
def test_escaped_json_stays_valid_and_decodes_to_the_exact_text(value: str) -> None:
    document = escape_json_text(json.dumps({"path": value}, ensure_ascii=False))
    document.encode("utf-8")
    assert UNSAFE.search(document) is None
    assert json.loads(document) == {"path": value}
    assert ("é" in document) == (value == "é")  # other text stays as it is
