"""``unmute-server say``: a character's voice into a WAV file, on the embedded engine."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from unmute_server.cli import main

REPO = Path(__file__).parents[2]
PACKS = REPO / "character_packs"

FRENCH = """\
name = "Amélie"

[voice]
source_type = "file"
path_on_server = "voices/amelie.wav"

[instructions]
type = "smalltalk"
language = "fr"
"""


def _say(*args: str, packs_root: Path = PACKS) -> int:
    return main(["say", "--packs-root", str(packs_root), *args])


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (
            1,
            2,
            24_000,
        )
        return np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")


def test_writes_the_character_speaking_as_a_24khz_wav(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nova.wav"
    assert _say("default", "Nova", "Hello, how are you today?", "-o", str(out)) == 0
    samples = _samples(out)
    assert len(samples) > 24_000 // 2
    assert np.abs(samples).max() > 1000  # speech, not silence
    err = capsys.readouterr().err
    assert err.startswith(f"wrote {out}: ")
    assert "in Nova's voice (espeak-ng en+" in err


def test_a_character_sounds_the_same_every_time_and_unlike_another(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "The weather is lovely today."
    voices = {}
    for name, file in [("Nova", "a.wav"), ("Nova", "b.wav"), ("Pip", "c.wav"), ("Guide", "d.wav")]:
        assert _say("default", name, text, "-o", str(tmp_path / file)) == 0
        voices[file] = capsys.readouterr().err.rsplit("espeak-ng ", 1)[1]
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert voices["a.wav"] == voices["b.wav"]
    different = [file for file in ("c.wav", "d.wav") if voices[file] != voices["a.wav"]]
    assert different, voices  # two of three names share a variant at most by chance
    for file in different:
        assert (tmp_path / file).read_bytes() != (tmp_path / "a.wav").read_bytes()


def test_the_character_language_picks_the_espeak_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "packs" / "paris").mkdir(parents=True)
    (tmp_path / "packs" / "paris" / "amelie.toml").write_text(FRENCH, encoding="utf-8")
    out = tmp_path / "amelie.wav"
    code = _say("paris", "Amélie", "Bonjour", "-o", str(out), packs_root=tmp_path / "packs")
    assert code == 0
    assert "(espeak-ng fr+" in capsys.readouterr().err
    assert len(_samples(out)) > 0


def test_an_unknown_character_is_a_usage_error_naming_the_closest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _say("default", "Novaa", "Hi", "-o", str(tmp_path / "x.wav")) == 2
    assert "did you mean 'Nova'?" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def test_a_file_that_cannot_be_written_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _say("default", "Nova", "Hi", "-o", str(tmp_path / "missing" / "x.wav")) == 2
    assert "cannot write" in capsys.readouterr().err


def test_without_espeak_ng_it_says_which_command_installs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no espeak-ng on it
    assert _say("default", "Nova", "Hi", "-o", str(tmp_path / "x.wav")) == 1
    assert "apt-get install -y espeak-ng" in capsys.readouterr().err
