"""The lint views: one list of diagnostics, three exact renderings."""

from __future__ import annotations

import json

import pytest

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.cli.lint_report import (
    LintSummary,
    escape_data,
    escape_property,
    format_github,
    format_json,
    format_text,
    summary_line,
)

DIAGNOSTICS = (
    Diagnostic("pack/a.toml", 3, 7, "CHR301", "'good': Input should be a valid boolean"),
    Diagnostic("pack/b.py", 0, 0, "CHR401", "b.py is shadowed by b.toml and is not read"),
)


def test_text_is_one_line_per_diagnostic_in_the_given_order() -> None:
    assert format_text(DIAGNOSTICS) == (
        "pack/a.toml:3:7: CHR301 'good': Input should be a valid boolean\n"
        "pack/b.py:0:0: CHR401 b.py is shadowed by b.toml and is not read\n"
    )
    assert format_text(()) == ""


def test_json_carries_every_field_and_the_summary() -> None:
    summary = LintSummary.of(DIAGNOSTICS, files=2, characters=1)
    document = json.loads(format_json(DIAGNOSTICS, summary))
    assert document["diagnostics"][1] == {
        "path": "pack/b.py",
        "line": 0,
        "col": 0,
        "code": "CHR401",
        "severity": "warning",
        "message": "b.py is shadowed by b.toml and is not read",
    }
    assert document["summary"] == {"files": 2, "characters": 1, "errors": 1, "warnings": 1}


def test_github_uses_error_and_warning_commands_and_drops_line_0() -> None:
    assert format_github(DIAGNOSTICS) == (
        "::error file=pack/a.toml,line=3,col=7,title=CHR301::"
        "'good': Input should be a valid boolean\n"
        "::warning file=pack/b.py,title=CHR401::b.py is shadowed by b.toml and is not read\n"
    )


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [
        ("50%", "50%25", "50%25"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("x:y,z", "x:y,z", "x%3Ay%2Cz"),
        ("%0A", "%250A", "%250A"),
        # No runner escape exists for these: printed as Python escapes, as in text.
        ("\x1b[2J\x9b\u202e", "\\x1b[2J\\x9b\\u202e", "\\x1b[2J\\x9b\\u202e"),
    ],
)
def test_github_escaping_of_messages_and_properties(raw: str, data: str, prop: str) -> None:
    assert escape_data(raw) == data
    assert escape_property(raw) == prop


def test_summary_line_counts_with_plurals() -> None:
    assert summary_line(LintSummary(1, 1, 0, 0)) == "checked 1 file (1 character): no problems"
    assert summary_line(LintSummary(3, 2, 2, 1)) == (
        "checked 3 files (2 characters): 2 errors, 1 warning"
    )
