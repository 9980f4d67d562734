"""Progress output: redrawn in place on a terminal, plain lines otherwise."""

from __future__ import annotations

import io

from unmute_server.loadtest.progress import Progress, ProgressSnapshot, progress_line


def snapshot(phase: str = "events", elapsed: float = 1.0, answered: int = 50) -> ProgressSnapshot:
    return ProgressSnapshot(
        phase=phase,
        elapsed=elapsed,
        connected=10,
        sessions=10,
        answered=answered,
        expected=100,
        errors=0,
    )


def test_line_has_a_bar_filled_in_proportion() -> None:
    line = progress_line(snapshot(answered=50))
    assert "[############............] 50/100 answers" in line
    assert "10/10 connected, 0 errors" in line


def test_line_without_an_expected_total_shows_a_count() -> None:
    line = progress_line(
        ProgressSnapshot(
            "events", 2.0, connected=3, sessions=3, answered=7, expected=None, errors=1
        )
    )
    assert "7 answers" in line
    assert "[" not in line


def test_terminal_redraws_one_line_until_the_end() -> None:
    stream = io.StringIO()
    progress = Progress(stream, tty=True)
    progress.show(snapshot(answered=10))
    progress.show(snapshot(answered=20))
    assert "\n" not in stream.getvalue()
    assert stream.getvalue().count("\r") == 2
    progress.finish(snapshot(answered=100))
    assert stream.getvalue().endswith("100/100 answers, 10/10 connected, 0 errors\n")


def test_plain_output_writes_a_line_per_interval_and_per_phase() -> None:
    stream = io.StringIO()
    progress = Progress(stream, tty=False, plain_interval=5.0)
    progress.show(snapshot(elapsed=1.0))
    progress.show(snapshot(elapsed=2.0))  # same phase, within the interval: nothing
    progress.show(snapshot(elapsed=6.5))
    progress.show(snapshot(phase="close", elapsed=7.0))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert "\r" not in stream.getvalue()
    assert lines[-1].startswith("loadtest close")
