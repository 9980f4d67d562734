"""Progress while a run goes: one redrawn line on a terminal, plain lines otherwise.

A person watching a terminal wants a bar that updates in place; a CI log or a pipe wants a
line now and then that reads well on its own. Both are views of one
:class:`ProgressSnapshot`, drawn on standard error so standard output stays the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

BAR_WIDTH = 24


@dataclass(frozen=True, slots=True)
class ProgressSnapshot:
    """Where a run is: its phase, sessions connected, answers received, errors."""

    phase: str
    elapsed: float
    connected: int
    sessions: int
    answered: int
    expected: int | None
    errors: int


def progress_line(snapshot: ProgressSnapshot) -> str:
    """The text of one progress update (no line end)."""
    done, total = snapshot.answered, snapshot.expected
    if total:
        fraction = min(1.0, done / total)
        filled = int(fraction * BAR_WIDTH)
        bar = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} answers"
    else:
        bar = f"{done} answers"
    return (
        f"loadtest {snapshot.phase:<8} {snapshot.elapsed:6.1f}s {bar}, "
        f"{snapshot.connected}/{snapshot.sessions} connected, {snapshot.errors} errors"
    )


class Progress:
    """Writes snapshots to ``stream``: in place on a terminal, as plain lines otherwise.

    Plain lines are written at most every ``plain_interval`` seconds of run time (and
    whenever the phase changes), so a long run in CI stays a short log.
    """

    def __init__(self, stream: TextIO, *, tty: bool | None = None, plain_interval: float = 5.0):
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._plain_interval = plain_interval
        self._last_plain = -plain_interval
        self._last_phase = ""
        self._drawn = False

    @property
    def interval(self) -> float:
        """How often the run should call :meth:`show`."""
        return 0.2 if self._tty else 1.0

    def show(self, snapshot: ProgressSnapshot) -> None:
        line = progress_line(snapshot)
        if self._tty:
            self._stream.write(f"\r\x1b[K{line}")
            self._drawn = True
        elif (
            snapshot.phase != self._last_phase
            or snapshot.elapsed - self._last_plain >= self._plain_interval
        ):
            self._stream.write(line + "\n")
            self._last_plain = snapshot.elapsed
        self._last_phase = snapshot.phase
        self._stream.flush()

    def finish(self, snapshot: ProgressSnapshot) -> None:
        """The final state, ending the redrawn line on a terminal."""
        line = progress_line(snapshot)
        if self._tty:
            self._stream.write(f"\r\x1b[K{line}\n")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
