"""What the server log says about a loaded pack's diagnostics: a count and the first few.

An operator reading the log wants to know that a pack has problems and where to start; the
full list is one ``unmute-server lint`` away (and in the ``reloaded`` event), so a pack with
hundreds of broken files costs the log a few lines, not hundreds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from unmute_server.characters.diagnostics import Diagnostic, Severity, counted

#: How many diagnostics one log record quotes.
MAX_LOGGED_DIAGNOSTICS = 5


def log_pack_diagnostics(
    logger: logging.Logger, what: str, diagnostics: Sequence[Diagnostic]
) -> None:
    """One record for ``what`` (``pack 'default' at start-up``): a warning when any diagnostic
    is an error, else information; nothing when the pack is clean."""
    if not diagnostics:
        return
    errors = sum(1 for diagnostic in diagnostics if diagnostic.severity is Severity.ERROR)
    warnings = len(diagnostics) - errors
    lines = [f"  {diagnostic}" for diagnostic in diagnostics[:MAX_LOGGED_DIAGNOSTICS]]
    if len(diagnostics) > MAX_LOGGED_DIAGNOSTICS:
        lines.append(f"  ... and {len(diagnostics) - MAX_LOGGED_DIAGNOSTICS} more (see lint)")
    logger.log(
        logging.WARNING if errors else logging.INFO,
        "%s: %s, %s\n%s",
        what,
        counted(errors, "error"),
        counted(warnings, "warning"),
        "\n".join(lines),
    )
