"""``unmute-server lint --watch PATH...``: lint again whenever a character file changes.

An author keeps this open beside the editor: every save clears the screen and shows the
current diagnostics and summary. Changes are found by polling a fingerprint of the PATHs
(each file's name, size, modification time and inode): no extra dependency, the same on
every platform, and a pack is a handful of small files. Ctrl-C ends the watch (exit 0).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from unmute_server.cli.lint import LintResult
from unmute_server.cli.lint_report import format_text, summary_line
from unmute_server.terminal_text import escape_controls

#: ANSI: erase the screen and put the cursor at the top left, as ``clear`` does.
CLEAR_SCREEN = "\x1b[2J\x1b[H"

#: Seconds between two looks at the files.
DEFAULT_INTERVAL = 0.5

#: Folder levels looked into below each PATH: a packs root, its packs, their files.
_DEPTH = 2

Fingerprint = tuple[tuple[str, int, int, int], ...]


def fingerprint(paths: Sequence[str]) -> Fingerprint:
    """What changes when a file under ``paths`` is written, added, removed or renamed."""
    entries: list[tuple[str, int, int, int]] = []

    def visit(path: str, depth: int) -> None:
        try:
            info = os.stat(path)
        except OSError:
            entries.append((path, -1, -1, -1))  # missing now: appearing later is a change
            return
        entries.append((path, info.st_size, info.st_mtime_ns, info.st_ino))
        if depth < _DEPTH and os.path.isdir(path):
            try:
                names = sorted(os.listdir(path))
            except OSError:
                return
            for name in names:
                if not name.startswith("."):
                    visit(os.path.join(path, name), depth + 1)

    for path in paths:
        visit(path, 0)
    return tuple(entries)


def watch(
    paths: Sequence[str],
    lint: Callable[[], LintResult],
    interval: float = DEFAULT_INTERVAL,
) -> int:
    """Run ``lint`` now and after each change, showing its text view on a cleared screen.

    Runs until interrupted; a Ctrl-C is how a watch ends, so it returns 0.
    """
    shown = " ".join(escape_controls(path) for path in paths)
    last: Fingerprint | None = None
    try:
        while True:
            current = fingerprint(paths)
            if current != last:
                last = current
                result = lint()
                stamp = datetime.now().strftime("%H:%M:%S")
                screen = [CLEAR_SCREEN, format_text(result.diagnostics)]
                screen += [
                    f"unmute-server lint: {escape_controls(error)}\n"
                    for error in result.usage_errors
                ]
                screen.append(
                    f"{summary_line(result.summary)}\n\n{stamp} watching {shown} (Ctrl-C to stop)\n"
                )
                sys.stdout.write("".join(screen))
                sys.stdout.flush()
            time.sleep(interval)
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        return 0
