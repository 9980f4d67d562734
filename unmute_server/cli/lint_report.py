"""The three views of a lint run: text for terminals, JSON for tools, GitHub annotations for CI.

Each view is a pure function over one list of :class:`Diagnostic` records and one
:class:`LintSummary`, so the three can never disagree about what was found.

Positions are printed as recorded: ``line`` and ``col`` are 1-based and ``0:0`` means the
whole file, the same spelling ``convert`` and the server's ``reloaded`` event use. Only the
GitHub view differs: an annotation without a line is attached to the file, so ``0:0`` leaves
``line`` and ``col`` out rather than send GitHub a line 0.

Paths and messages carry file names and file content, which may hold control or
bidirectional characters: every view escapes them (see :mod:`unmute_server.terminal_text`),
so no name can forge a line, drive the terminal or display as another name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from unmute_server.characters.diagnostics import Diagnostic, Severity, counted
from unmute_server.terminal_text import escape_controls, escape_json_text

FORMATS = ("text", "json", "github")


@dataclass(frozen=True, slots=True)
class LintSummary:
    """What a lint run covered and found; ``files`` counts character files parsed or tried."""

    files: int
    characters: int
    errors: int
    warnings: int

    @classmethod
    def of(cls, diagnostics: Sequence[Diagnostic], files: int, characters: int) -> LintSummary:
        errors = sum(1 for diagnostic in diagnostics if diagnostic.is_error)
        return cls(files, characters, errors, len(diagnostics) - errors)


def summary_line(summary: LintSummary) -> str:
    """``checked 9 files (8 characters): 1 error, 1 warning`` for the terminal's stderr."""
    checked = (
        f"checked {counted(summary.files, 'file')} ({counted(summary.characters, 'character')})"
    )
    if not summary.errors and not summary.warnings:
        return f"{checked}: no problems"
    return f"{checked}: {counted(summary.errors, 'error')}, {counted(summary.warnings, 'warning')}"


def format_text(diagnostics: Sequence[Diagnostic]) -> str:
    """One ``path:line:col: CODE message`` line per diagnostic, as editors and ruff print;
    ``str(diagnostic)`` escapes control and bidirectional characters."""
    return "".join(f"{diagnostic}\n" for diagnostic in diagnostics)


def diagnostic_record(diagnostic: Diagnostic) -> dict[str, str | int]:
    """A diagnostic as a JSON object; the same keys the server's ``errors`` list uses."""
    return {
        "path": diagnostic.path,
        "line": diagnostic.line,
        "col": diagnostic.col,
        "code": diagnostic.code,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
    }


def format_json(diagnostics: Sequence[Diagnostic], summary: LintSummary) -> str:
    """One JSON document: ``{"diagnostics": [...], "summary": {...}}`` and a newline.

    Strings keep their exact value; characters a terminal would act on are ``\\u`` escapes.
    """
    document = {
        "diagnostics": [diagnostic_record(diagnostic) for diagnostic in diagnostics],
        "summary": {
            "files": summary.files,
            "characters": summary.characters,
            "errors": summary.errors,
            "warnings": summary.warnings,
        },
    }
    return escape_json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def escape_data(text: str) -> str:
    """Escape an annotation's message as the GitHub Actions runner unescapes it.

    The runner decodes ``%25``, ``%0D`` and ``%0A`` (and, in properties, ``%3A`` and ``%2C``)
    and nothing else, so those give back the exact text; any other control or bidirectional
    character has no such escape and is written as a Python-style escape instead, because
    the runner shows messages in a log viewer that acts on terminal escape sequences.
    """
    text = escape_controls(text, keep="\r\n")
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (``file=``, ``title=``): also ``:`` and ``,`` separate fields."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(diagnostics: Sequence[Diagnostic]) -> str:
    """``::error file=...,line=...,col=...,title=CODE::message`` workflow commands, one a line."""
    lines: list[str] = []
    for diagnostic in diagnostics:
        command = "error" if diagnostic.severity is Severity.ERROR else "warning"
        properties = [f"file={escape_property(diagnostic.path)}"]
        if diagnostic.line > 0:
            properties.append(f"line={diagnostic.line}")
            if diagnostic.col > 0:
                properties.append(f"col={diagnostic.col}")
        properties.append(f"title={escape_property(diagnostic.code)}")
        lines.append(f"::{command} {','.join(properties)}::{escape_data(diagnostic.message)}\n")
    return "".join(lines)
