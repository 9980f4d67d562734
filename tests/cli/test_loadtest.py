"""``unmute-server loadtest`` as a user runs it: flags, exit codes, and the JSON report
against a real ``unmute-server serve`` process on loopback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from unmute_server.cli import main
from unmute_server.cli.loadtest import SCENARIOS
from unmute_server.loadtest.runner import Scenario

PACKS = Path(__file__).resolve().parents[2] / "character_packs"


def test_a_non_loopback_url_exits_2_and_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loadtest", "--url", "ws://example.com/v1/realtime"]) == 2
    error = capsys.readouterr().err
    assert "not a loopback address" in error
    assert "--allow-remote" in error


def test_reloads_without_packs_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loadtest", "--url", "ws://127.0.0.1:1/v1/realtime", "--reloads", "2"]) == 2
    assert "--packs" in capsys.readouterr().err


def test_help_says_only_loopback_is_targeted(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["loadtest", "--help"])
    assert "forbid" in capsys.readouterr().out


@pytest.fixture
def server_url() -> Iterator[str]:
    """``unmute-server serve`` on a free loopback port, serving the bundled packs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNMUTE_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "unmute_server",
            "serve",
            "--port",
            "0",
            "--packs-root",
            str(PACKS),
            "--default-pack",
            "default",
            # The load test's mix asks for no answers: no model to start.
            "--llm",
            "off",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"listening on http://([^\s]+)", line)
    try:
        assert found, f"server did not start: {line!r}"
        yield f"ws://{found[1]}/v1/realtime"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_json_report_of_a_clean_run_against_the_bundled_packs(server_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "unmute_server",
            "loadtest",
            "--url",
            server_url,
            "--sessions",
            "5",
            "--reloads",
            "2",
            "--packs",
            "classics,default",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["totals"]["clean"]
    assert report["totals"]["sent"] == report["totals"]["answered"] == 5 * (2 + 3 * 2 + 5)
    assert report["connects_succeeded"] == 5
    assert "open-file soft limit" in done.stderr


def test_text_report_and_exit_1_when_events_fail(server_url: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "unmute_server",
            "loadtest",
            "--url",
            server_url,
            "--sessions",
            "2",
            "--reloads",
            "1",
            "--packs",
            "no-such-pack",
            "--events",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "errors       by code: directory_not_found 2" in done.stdout


def test_the_scenario_choices_are_the_load_generators_scenarios() -> None:
    assert tuple(scenario.value for scenario in Scenario) == SCENARIOS
