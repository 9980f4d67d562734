"""``make run``: the port and host come from ``PORT``/``HOST`` or the ``UNMUTE_*`` variables,
never silently from the Makefile; a port in use gets a hint instead of a traceback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LISTENING = "unmute-server listening on http://"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _make_run(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """``make run`` with this interpreter's environment (its ``bin``), install step skipped."""
    make = shutil.which("make")
    assert make is not None, "make is needed to test the Makefile"
    command = [make, "--no-print-directory", "-o", ".venv/.installed", "run"]
    command += [f"BIN={Path(sys.executable).parent}", *args]
    return subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        start_new_session=True,  # so the server make started gets the signal too
    )


@pytest.fixture
def stopped() -> Iterator[list[subprocess.Popen[str]]]:
    """Every process a test starts is stopped at its end, whatever the outcome."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def _listening_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:  # bounded by the test timeout; ends at the server's exit
        if line.startswith(LISTENING):
            return line.strip()
    _, stderr = process.communicate(timeout=30)
    raise AssertionError(f"make run never listened; stderr:\n{stderr}")


@pytest.mark.parametrize(
    ("args", "env"),
    [
        pytest.param(["PORT={port}"], {}, id="make-variable"),
        pytest.param([], {"UNMUTE_PORT": "{port}"}, id="environment"),
    ],
)
def test_make_run_listens_on_the_port_asked_for(
    args: list[str], env: dict[str, str], stopped: list[subprocess.Popen[str]]
) -> None:
    port = _free_port()
    process = _make_run(
        [arg.format(port=port) for arg in args],
        {key: value.format(port=port) for key, value in env.items()},
    )
    stopped.append(process)
    assert _listening_line(process) == f"{LISTENING}127.0.0.1:{port}"


def test_make_run_host_variable_is_passed_on(stopped: list[subprocess.Popen[str]]) -> None:
    process = _make_run(["HOST=127.0.0.2", "PORT=0"], {})
    stopped.append(process)
    assert _listening_line(process).startswith(f"{LISTENING}127.0.0.2:")


def test_a_port_in_use_exits_2_with_the_ways_out(stopped: list[subprocess.Popen[str]]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _make_run([f"PORT={port}"], {})
        stopped.append(process)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "Traceback" not in stderr
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in stderr
    assert "--port 0" in stderr
    assert "make run PORT=" in stderr
