"""``unmute-server lint --watch``: a real process re-lints when a file changes, clearing the
screen each time, and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from unmute_server.cli.lint_watch import CLEAR_SCREEN, fingerprint

GOOD = """\
name = "Nova"

[voice]
source_type = "file"
path_on_server = "voices/nova.wav"

[instructions]
type = "smalltalk"
"""

#: Generous: the machine may be busy; the watcher polls every 0.1 s in these tests.
WAIT_SECONDS = 60


class Screen:
    """The watcher's stdout, read on a thread so every wait is bounded."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.text = ""
        self._chunks: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout
        threading.Thread(target=self._pump, args=(stdout,), daemon=True).start()

    def _pump(self, stream: object) -> None:
        assert hasattr(stream, "read")
        while chunk := stream.read(1):
            self._chunks.put(chunk)
        self._chunks.put(None)

    def wait_for(self, wanted: str, after: int = 0) -> int:
        """Read until ``wanted`` appears past offset ``after``; its offset."""
        deadline = time.monotonic() + WAIT_SECONDS
        while (found := self.text.find(wanted, after)) < 0:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{wanted!r} never shown; screen so far:\n{self.text}"
            try:
                chunk = self._chunks.get(timeout=remaining)
            except queue.Empty:
                continue
            assert chunk is not None, f"watcher exited before {wanted!r}:\n{self.text}"
            self.text += chunk
        return found


def test_watch_relints_on_change_clears_the_screen_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    pack = tmp_path / "mine"
    pack.mkdir()
    character = pack / "nova.toml"
    character.write_text(GOOD, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "unmute_server", "lint", "--watch", "--interval", "0.1", str(pack)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        screen = Screen(process)
        first = screen.wait_for(CLEAR_SCREEN)
        clean = screen.wait_for("checked 1 file (1 character): no problems", first)
        screen.wait_for(f"watching {pack}", clean)

        character.write_text(GOOD.replace('"smalltalk"', '"smaltalk"'), encoding="utf-8")
        second = screen.wait_for(CLEAR_SCREEN, clean)
        error = screen.wait_for(f"{character}:8:1: CHR301 'instructions.type'", second)
        screen.wait_for(f"{pack}:0:0: CHR402 pack has no valid characters", error)
        screen.wait_for("checked 1 file (0 characters): 2 errors, 0 warnings", error)

        # A new file is a change too.
        (pack / "ada.toml").write_text(GOOD.replace("Nova", "Ada"), encoding="utf-8")
        third = screen.wait_for(CLEAR_SCREEN, error)
        screen.wait_for("checked 2 files (1 character): 1 error, 0 warnings", third)

        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_fingerprint_changes_with_content_and_with_new_or_removed_files(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("x", encoding="utf-8")
    first = fingerprint([str(tmp_path)])
    assert fingerprint([str(tmp_path)]) == first
    (tmp_path / "a.toml").write_text("xy", encoding="utf-8")
    second = fingerprint([str(tmp_path)])
    assert second != first
    (tmp_path / "b.toml").write_text("x", encoding="utf-8")
    third = fingerprint([str(tmp_path)])
    assert third != second
    os.remove(tmp_path / "b.toml")
    assert fingerprint([str(tmp_path)]) != third
    assert [entry[0] for entry in fingerprint([str(tmp_path)])] == [entry[0] for entry in second]


def test_watch_takes_only_the_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    from unmute_server.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["lint", "--watch", "--format", "json", "."])
    assert caught.value.code == 2
    assert "--watch shows the text format only" in capsys.readouterr().err
