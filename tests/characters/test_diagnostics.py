"""The diagnostic record and its code table."""

from __future__ import annotations

import dataclasses
import re

import pytest

from unmute_server.characters.diagnostics import CODES, Diagnostic, Severity, has_errors


def test_str_is_clickable_path_line_col_code_message() -> None:
    diagnostic = Diagnostic("pack/a.py", 3, 7, "CHR104", "name `os` is not a literal")
    assert str(diagnostic) == "pack/a.py:3:7: CHR104 name `os` is not a literal"


def test_str_is_one_line_a_terminal_or_log_cannot_act_on() -> None:
    """The server logs a default pack's diagnostics with ``str``: a file name must not forge
    a log line or drive the terminal the log is read on."""
    diagnostic = Diagnostic("p/a\n\x1b[2J.toml", 0, 0, "CHR003", "'\u202e\udcff' unreadable")
    assert str(diagnostic) == "p/a\\n\\x1b[2J.toml:0:0: CHR003 '\\u202e\\xff' unreadable"


def test_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError, match="CHR999"):
        Diagnostic("a.py", 1, 1, "CHR999", "x")


def test_diagnostic_is_immutable() -> None:
    diagnostic = Diagnostic("a.py", 1, 1, "CHR100", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        diagnostic.line = 2  # type: ignore[misc]


def test_severity_comes_from_the_code_table() -> None:
    assert Diagnostic("a.py", 0, 0, "CHR401", "shadowed").severity is Severity.WARNING
    assert not has_errors([Diagnostic("a.py", 0, 0, "CHR401", "shadowed")])
    assert has_errors([Diagnostic("a.py", 1, 1, "CHR100", "syntax")])


def test_codes_are_well_formed_and_keyed_by_themselves() -> None:
    for key, code in CODES.items():
        assert key == code.code
        assert re.fullmatch(r"CHR\d{3}", key)
        assert code.summary
        assert code.summary == code.summary.strip()
