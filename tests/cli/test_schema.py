"""``unmute-server schema``: write the files, and ``--check`` fails on any drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from unmute_server.cli import main
from unmute_server.schemas import generated_files

REPO = Path(__file__).parents[2]


def test_check_passes_on_the_committed_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--check", "--dir", str(REPO / "schemas")]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"{len(generated_files())} schema file(s) up to date\n"


def test_write_creates_the_folder_and_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out"
    assert main(["schema", "--dir", str(target)]) == 0
    for name, text in generated_files().items():
        assert (target / name).read_text(encoding="utf-8") == text
    assert capsys.readouterr().out == "".join(
        f"wrote {target / name}\n" for name in generated_files()
    )
    assert main(["schema", "--dir", str(target)]) == 0
    assert capsys.readouterr().out == "".join(
        f"{target / name} is up to date\n" for name in generated_files()
    )


def test_check_fails_on_a_stale_file_with_a_diff_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "--dir", str(tmp_path)]) == 0
    stale = tmp_path / "character.schema.json"
    text = stale.read_text(encoding="utf-8")
    edited = text.replace('"title": "unmute-server character"', '"title": "old title"')
    assert edited != text
    stale.write_text(edited, encoding="utf-8")
    capsys.readouterr()

    assert main(["schema", "--check", "--dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(
        f"{stale}: stale; run `unmute-server schema` to regenerate it\n"
        f"--- {stale} (committed)\n+++ {stale} (generated)\n"
    )
    assert '\n-  "title": "old title",\n+  "title": "unmute-server character",\n' in out
    assert err == "1 schema file(s) out of date\n"
    assert stale.read_text(encoding="utf-8") == edited


def test_check_fails_on_missing_and_unregistered_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "retired.schema.json").write_text("{}\n", encoding="utf-8")
    assert main(["schema", "--check", "--dir", str(tmp_path)]) == 1
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert (
        f"{tmp_path / 'character.schema.json'}: missing; run `unmute-server schema` to write it"
        in lines
    )
    assert lines[-1] == (
        f"{tmp_path / 'retired.schema.json'}: no model generates this file; "
        "delete it or register it"
    )


def test_check_of_a_missing_folder_is_an_io_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "--check", "--dir", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_check_in_a_real_process_from_the_repository() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "unmute_server", "schema", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_check_escapes_file_names_found_in_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x\x1b[2J\n.schema.json").write_text("{}\n", encoding="utf-8")
    assert main(["schema", "--check", "--dir", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{tmp_path}/x\\x1b[2J\\n.schema.json: no model generates this file; "
        "delete it or register it"
    )
