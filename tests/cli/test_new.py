"""``unmute-server new``: a commented character file that lints clean and loads, any type."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from unmute_server.characters.model import INSTRUCTION_TYPES
from unmute_server.characters.pack import load_pack
from unmute_server.cli import main
from unmute_server.cli.lint import lint_paths

NAME = 'Zoë O\'Neil "Z" \\ {x}'


@pytest.mark.parametrize("file_format", ["toml", "py"])
@pytest.mark.parametrize("instruction_type", INSTRUCTION_TYPES)
def test_every_type_and_format_lints_clean_and_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], instruction_type: str, file_format: str
) -> None:
    pack = tmp_path / "packs" / "mine"
    args = ["new", str(pack), NAME, "--type", instruction_type, "--format", file_format]
    assert main(args) == 0
    written = pack / f"zoë_o_neil_z_x.{file_format}"
    out = capsys.readouterr().out
    assert f"wrote {written}" in out
    commands = [line.strip() for line in out.splitlines() if line.startswith("  unmute-server ")]
    assert commands[0] == f"unmute-server lint {pack}"
    # The show command it prints works as printed.
    capsys.readouterr()
    assert main(shlex.split(commands[1])[1:]) == 0
    prompt = capsys.readouterr().out
    assert prompt.strip()
    if instruction_type in {"constant", "template"}:  # the text the file holds, rendered
        assert f"You are {NAME}" in prompt
    text = written.read_text(encoding="utf-8")
    assert text.count("\n#") + text.count("\n    #") >= 5, "the file explains itself"

    result = lint_paths([str(pack)])
    assert result.diagnostics == ()
    assert result.usage_errors == ()
    registry = load_pack(pack, "mine")
    assert list(registry) == [NAME]
    assert registry[NAME].instructions.type == instruction_type


def test_default_is_a_constant_toml_character(tmp_path: Path) -> None:
    assert main(["new", str(tmp_path), "Ada"]) == 0
    registry = load_pack(tmp_path, "pack")
    assert registry["Ada"].instructions.type == "constant"
    assert (tmp_path / "ada.toml").is_file()


def test_an_existing_file_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ada.toml").write_text("mine\n", encoding="utf-8")
    assert main(["new", str(tmp_path), "Ada"]) == 2
    assert f"{tmp_path / 'ada.toml'} already exists" in capsys.readouterr().err
    assert (tmp_path / "ada.toml").read_text(encoding="utf-8") == "mine\n"


def test_a_name_the_pack_already_has_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", str(tmp_path), "Ada", "--format", "py"]) == 0
    (tmp_path / "ada.py").rename(tmp_path / "first.py")
    capsys.readouterr()
    assert main(["new", str(tmp_path), "Ada"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} already defines 'Ada' in first.py" in err
    assert not (tmp_path / "ada.toml").exists()


@pytest.mark.parametrize("name", ["", " Ada", "A" * 65, "Ada\nBob"])
def test_a_name_the_model_refuses_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert main(["new", str(tmp_path / "p"), name]) == 2
    assert "NAME" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_installed_command_writes_in_a_separate_process(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "unmute_server", "new", str(tmp_path), "Ada", "--type", "news"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert load_pack(tmp_path, "p")["Ada"].instructions.type == "news"
