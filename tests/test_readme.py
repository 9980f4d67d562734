"""The README documents what the code defines: codes, placeholders and the two set-up commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from unmute_server.characters.diagnostics import CODES, Code
from unmute_server.characters.model import TEMPLATE_PLACEHOLDERS

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("code", list(CODES.values()), ids=list(CODES))
def test_every_diagnostic_code_is_in_the_readme_table(code: Code) -> None:
    assert f"| `{code.code}` | {code.severity.value} | {code.summary} |" in README


@pytest.mark.parametrize("placeholder", list(TEMPLATE_PLACEHOLDERS))
def test_every_template_placeholder_is_documented(placeholder: str) -> None:
    assert f"| `{{{placeholder}}}` |" in README


def test_readme_gives_the_two_setup_commands() -> None:
    assert "make run" in README
    assert "make test" in README
