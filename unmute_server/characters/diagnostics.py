"""Diagnostics: every problem found in a pack, as data.

One record type serves every view (lint text, JSON, GitHub annotations, the WebSocket
``reloaded`` event), so the code table below is the single place a code is defined.
Codes are stable: tests, editors and CI scripts match on them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from unmute_server.terminal_text import escape_controls


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Code:
    """A stable diagnostic code and the one-line summary documented in docs/characters.md."""

    code: str
    severity: Severity
    summary: str


def _table(*codes: Code) -> dict[str, Code]:
    return {code.code: code for code in codes}


_E = Severity.ERROR
_W = Severity.WARNING

#: Every diagnostic code, in documentation order. CHR0xx: bytes and limits; CHR1xx: restricted
#: Python; CHR2xx: TOML; CHR3xx: validation; CHR4xx: pack level.
CODES: dict[str, Code] = _table(
    Code("CHR001", _E, "file is larger than the file size limit"),
    Code("CHR002", _E, "file is not valid UTF-8"),
    Code("CHR003", _E, "file cannot be read"),
    Code("CHR004", _E, "symlink points outside the pack folder"),
    Code("CHR005", _E, "value is nested deeper than the nesting limit"),
    Code("CHR006", _E, "string is longer than the string length limit"),
    Code("CHR007", _E, "file is empty"),
    Code("CHR100", _E, "Python syntax error"),
    Code("CHR101", _E, "statement not allowed in a character file"),
    Code("CHR102", _E, "import in a legacy executable character file; add a TOML sidecar"),
    Code("CHR103", _E, "legacy PromptGenerator class; add a TOML sidecar"),
    Code("CHR104", _E, "expression is not a literal"),
    Code("CHR105", _E, "f-string not allowed; use a template instruction"),
    Code("CHR106", _E, "assignment target is not a single UPPER_CASE name"),
    Code("CHR107", _E, "field assigned more than once"),
    Code("CHR108", _E, "dictionary key is not a string literal"),
    Code("CHR109", _E, "unknown field name"),
    Code("CHR110", _E, "string holds a lone surrogate escape, which is not text"),
    Code("CHR200", _E, "TOML syntax error"),
    Code("CHR300", _E, "required field is missing"),
    Code("CHR301", _E, "field has an invalid value"),
    Code("CHR302", _E, "template uses an unknown placeholder"),
    Code("CHR303", _E, "unknown field"),
    Code("CHR304", _E, "voice path_on_server is not a relative path inside the voice folder"),
    Code("CHR305", _W, "name mixes letters of scripts that are not written together"),
    Code("CHR306", _E, "voices entry is not a valid voice name for its engine"),
    Code("CHR307", _W, "voices entry names a voice the engine is not known to have"),
    Code("CHR400", _E, "two files define the same character name"),
    Code("CHR401", _W, "Python file is shadowed by its TOML sidecar and is not read"),
    Code("CHR402", _E, "pack has no valid characters"),
    Code("CHR403", _E, "pack has more character files than the limit"),
    Code("CHR404", _E, "pack has more characters than the limit"),
    Code("CHR405", _E, "pack is larger in total than the pack size limit"),
    Code("CHR406", _E, "pack folder cannot be read"),
    Code("CHR407", _W, "two character names in the pack look alike"),
    Code("CHR408", _E, "loading the pack exceeded its build budget (CPU time, memory or time)"),
    Code("CHR409", _W, "two characters in the pack share a voice path_on_server"),
    Code("CHR410", _W, "file voice sample is neither in the pack nor under a --voices-root folder"),
)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem at one place.

    ``path`` is relative to the pack folder (or as the user gave it, for lint), never an
    absolute server path, so a diagnostic can be shown to a remote client as it is.
    ``line`` and ``col`` are 1-based; 0 means "the whole file".
    """

    path: str
    line: int
    col: int
    code: str
    message: str

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown diagnostic code {self.code!r}")

    @property
    def severity(self) -> Severity:
        return CODES[self.code].severity

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        """``path:line:col: CODE message``, one line fit for a terminal or a log: control and
        bidirectional characters in the path or message are printed as escapes."""
        path, message = escape_controls(self.path), escape_controls(self.message)
        return f"{path}:{self.line}:{self.col}: {self.code} {message}"


def counted(count: int, noun: str) -> str:
    """``1 error``, ``2 errors``: a count of diagnostics as an author reads it."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def has_errors(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> bool:
    """Whether any diagnostic is an error (warnings never block a load)."""
    return any(diagnostic.is_error for diagnostic in diagnostics)
