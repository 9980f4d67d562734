"""``unmute-server transcribe``: what the embedded speech-to-text hears in a file."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.voice import speech_fixtures
from unmute_server.cli import main

REPO = Path(__file__).parents[2]


def _fixture_wav(tmp_path: Path, rate: int = 24_000, channels: int = 1) -> Path:
    """The PCM16 fixture as a WAV file: at 24 kHz, or at 48 kHz and in stereo by repetition."""
    samples = np.frombuffer(speech_fixtures.pcm16_bytes("hello_coffee"), dtype="<i2")
    samples = np.repeat(samples, rate // 24_000)
    frames = np.repeat(samples[:, None], channels, axis=1)
    path = tmp_path / "speech.wav"
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames.astype("<i2").tobytes())
    return path


def test_prints_the_transcript_of_a_wav_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transcribe", str(_fixture_wav(tmp_path))]) == 0
    words = capsys.readouterr().out.split()
    assert {"hello", "how", "you", "coffee", "please"} <= set(words)


def test_reads_stereo_at_another_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transcribe", str(_fixture_wav(tmp_path, rate=48_000, channels=2))]) == 0
    assert "coffee" in capsys.readouterr().out.split()


def test_reads_ogg_opus_through_the_real_entry_point() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "unmute_server",
            "transcribe",
            "--partials",
            str(speech_fixtures.FOLDER / "hello_coffee.opus"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert {"hello", "coffee", "please"} <= set(result.stdout.split())
    partials = [line for line in result.stderr.splitlines() if line.startswith("... ")]
    assert len(partials) >= 3


def test_what_say_writes_transcribe_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "said.wav"
    text = "Hello, how are you today? I would like a cup of coffee, please."
    assert (
        main(
            [
                "say",
                "--packs-root",
                str(REPO / "character_packs"),
                "default",
                "Nova",
                text,
                "-o",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["transcribe", str(out)]) == 0
    heard = set(capsys.readouterr().out.split())
    said = set(text.lower().replace(",", "").replace("?", "").replace(".", "").split())
    assert len(heard & said) >= 3, heard


@pytest.mark.parametrize("content", [b"", b"not audio at all", b"OggS\x00broken page"])
def test_a_file_that_is_not_audio_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    assert main(["transcribe", str(path)]) == 2
    assert "bad.wav" in capsys.readouterr().err


def test_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transcribe", str(tmp_path / "missing.wav")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_language_other_than_english_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["transcribe", "--language", "fr", str(_fixture_wav(tmp_path))]) == 1
    assert "English (en) only" in capsys.readouterr().err
