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


CHARACTER = (
    'name = "Ada"\n\n[voice]\nsource_type = "file"\npath_on_server = "v.wav"\n\n'
    '[instructions]\ntype = "news"\n'
)


def test_write_directive_points_packs_outside_the_repo_at_the_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pack kept anywhere gets a ``#:schema`` path that leads from its folder to the file,
    and check-jsonschema (as editors do) then finds the schema by that line alone."""
    schemas = tmp_path / "tools" / "schemas"
    assert main(["schema", "--dir", str(schemas)]) == 0
    pack = tmp_path / "elsewhere" / "mine"
    pack.mkdir(parents=True)
    (pack / "ada.toml").write_text(CHARACTER, encoding="utf-8")
    (pack / "bob.toml").write_text(
        "#:schema old/path.json\r\n" + CHARACTER.replace("\n", "\r\n").replace("Ada", "Bob"),
        encoding="utf-8",
        newline="",
    )
    (pack / "carl.py").write_text("CHARACTER_NAME = 'Carl'\n", encoding="utf-8")
    capsys.readouterr()

    assert main(["schema", "--dir", str(schemas), "--write-directive", str(pack)]) == 0
    directive = "#:schema ../../tools/schemas/character.schema.json"
    assert (pack / "ada.toml").read_text(encoding="utf-8") == f"{directive}\n{CHARACTER}"
    bob = (pack / "bob.toml").read_bytes().decode("utf-8")
    assert bob.startswith(f'{directive}\r\nname = "Bob"\r\n')
    assert "old/path.json" not in bob
    assert (pack / "carl.py").read_text(encoding="utf-8") == "CHARACTER_NAME = 'Carl'\n"
    out = capsys.readouterr().out
    assert f"wrote {directive} into {pack / 'ada.toml'}" in out

    # Again: nothing changes, and one file can be named alone.
    assert main(["schema", "--dir", str(schemas), "--write-directive", str(pack / "ada.toml")]) == 0
    assert f"{pack / 'ada.toml'} is up to date" in capsys.readouterr().out

    # The directive, read from the pack folder as Taplo reads it, leads to the schema.
    schema_path = pack / (directive.removeprefix("#:schema "))
    assert schema_path.resolve() == (schemas / "character.schema.json").resolve()


def test_write_directive_without_the_schema_file_exits_2_saying_how(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ada.toml").write_text(CHARACTER, encoding="utf-8")
    missing = tmp_path / "nowhere"
    assert main(["schema", "--dir", str(missing), "--write-directive", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{missing / 'character.schema.json'} does not exist" in err
    assert f"unmute-server schema --dir {missing}" in err
    assert (tmp_path / "ada.toml").read_text(encoding="utf-8") == CHARACTER


def test_write_directive_on_a_folder_without_toml_files_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "--dir", str(REPO / "schemas"), "--write-directive", str(tmp_path)]) == 2
    assert "holds no .toml character files" in capsys.readouterr().err
