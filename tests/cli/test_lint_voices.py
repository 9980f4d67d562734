"""``unmute-server lint --voices-root DIR``: CHR410 for a ``file`` voice whose sample is
neither in the pack nor under a voices folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from unmute_server.characters.diagnostics import CODES, Severity
from unmute_server.cli import main

NOVA = """\
name = "Nova"

[voice]
source_type = "file"
path_on_server = "voices/nova.wav"

[instructions]
type = "smalltalk"
"""

PIP = """\
CHARACTER_NAME = "Pip"
VOICE_SOURCE = {"source_type": "file", "path_on_server": "pip.wav"}
INSTRUCTIONS = {"type": "news"}
"""

FREESOUND = """\
name = "Fern"

[voice]
source_type = "freesound"
url = "https://freesound.org/s/1/"

[instructions]
type = "news"
"""


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "nova.toml").write_text(NOVA, encoding="utf-8")
    (folder / "pip.py").write_text(PIP, encoding="utf-8")
    (folder / "fern.toml").write_text(FREESOUND, encoding="utf-8")
    return folder


def test_chr410_is_a_documented_warning() -> None:
    assert CODES["CHR410"].severity is Severity.WARNING


def test_missing_samples_are_warned_at_path_on_server_in_both_forms(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voices = tmp_path / "voices_root"
    voices.mkdir()
    assert main(["lint", "pack", "--voices-root", str(voices)]) == 0
    out, err = capsys.readouterr()
    assert out == (
        "pack/nova.toml:5:1: CHR410 voice sample 'voices/nova.wav' is neither in the pack "
        f"(pack/voices/nova.wav) nor under the voices folder {voices}; path_on_server is "
        "relative to the TTS server's voice folder: fix the name or add the file\n"
        "pack/pip.py:2:58: CHR410 voice sample 'pip.wav' is neither in the pack "
        f"(pack/pip.wav) nor under the voices folder {voices}; path_on_server is "
        "relative to the TTS server's voice folder: fix the name or add the file\n"
    )
    assert err.endswith("checked 3 files (3 characters): 0 errors, 2 warnings\n")
    assert main(["lint", "pack", "--voices-root", str(voices), "--strict"]) == 1


def test_a_sample_in_the_pack_or_under_any_voices_root_is_found(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (pack / "voices").mkdir()
    (pack / "voices" / "nova.wav").write_bytes(b"RIFF")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (second / "pip.wav").write_bytes(b"RIFF")
    args = ["lint", "pack", "--voices-root", str(first), "--voices-root", str(second)]
    assert main([*args, "--strict"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("no problems\n")


def test_a_single_file_is_checked_against_its_folder(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "pack/pip.py", "--voices-root", str(tmp_path)]) == 0
    assert "pack/pip.py:2:58: CHR410 voice sample 'pip.wav'" in capsys.readouterr().out
    (pack / "pip.wav").write_bytes(b"RIFF")
    assert main(["lint", "pack/pip.py", "--voices-root", str(tmp_path), "--strict"]) == 0


def test_without_a_voices_root_samples_are_not_checked(
    pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Samples usually live on the TTS server, which lint cannot see: opt in to the check."""
    assert main(["lint", "pack", "--strict"]) == 0
    assert "CHR410" not in capsys.readouterr().out


def test_a_voices_root_that_is_not_a_folder_is_a_usage_error(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "pack", "--voices-root", str(tmp_path / "nope")]) == 2
    assert f"--voices-root {tmp_path / 'nope'} is not a folder" in capsys.readouterr().err
