"""Server voice-activity detection on real speech from espeak-ng."""

from __future__ import annotations

import subprocess
import wave

import numpy as np
import pytest

from unmute_server.voice.audio import SAMPLE_RATE, Pcm, silence
from unmute_server.voice.codec import resample
from unmute_server.voice.turns import SpeechStarted, SpeechStopped, TurnDetection, TurnDetector


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Pcm:
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(path), "Hello, how are you today? Let us talk about the sea."],
        check=True,
    )
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return resample(samples.astype(np.float32) / 32768.0, rate, SAMPLE_RATE)


def run(detector: TurnDetector, audio: Pcm, step: int = 1920) -> list[object]:
    events: list[object] = []
    for start in range(0, len(audio), step):
        events += detector.push(audio[start : start + step])
    return events


def test_one_utterance_between_silences_is_one_turn_with_its_times(speech: Pcm) -> None:
    audio = np.concatenate((silence(1.0), speech, silence(1.5)))
    events = run(TurnDetector(TurnDetection()), audio)
    assert [type(event) for event in events] == [SpeechStarted, SpeechStopped]
    started, stopped = events
    assert isinstance(started, SpeechStarted)
    assert isinstance(stopped, SpeechStopped)
    speech_ms = len(speech) * 1000 // SAMPLE_RATE
    assert 1000 <= started.audio_start_ms <= 1400
    assert 1000 + speech_ms - 800 <= stopped.audio_end_ms <= 1000 + speech_ms


def test_the_chunk_size_does_not_change_the_turns(speech: Pcm) -> None:
    audio = np.concatenate((silence(0.5), speech, silence(1.0)))
    reference = run(TurnDetector(TurnDetection()), audio, 1920)
    for step in (7, 480, 4001):
        assert run(TurnDetector(TurnDetection()), audio, step) == reference


def test_a_pause_shorter_than_silence_duration_does_not_end_the_turn(speech: Pcm) -> None:
    audio = np.concatenate((speech, silence(0.3), speech, silence(1.5)))
    events = run(TurnDetector(TurnDetection(silence_duration_ms=800)), audio)
    assert [type(event) for event in events] == [SpeechStarted, SpeechStopped]
    two_turns = run(TurnDetector(TurnDetection(silence_duration_ms=200)), audio)
    assert [type(event) for event in two_turns].count(SpeechStarted) >= 2


def test_silence_and_faint_noise_are_not_speech() -> None:
    noise = (np.random.default_rng(7).standard_normal(3 * SAMPLE_RATE) * 0.005).astype(np.float32)
    assert run(TurnDetector(TurnDetection()), np.concatenate((silence(2.0), noise))) == []


def test_reset_forgets_a_turn_in_progress(speech: Pcm) -> None:
    detector = TurnDetector(TurnDetection())
    events = run(detector, np.concatenate((silence(0.5), speech[:SAMPLE_RATE])))
    assert [type(event) for event in events] == [SpeechStarted]
    assert detector.in_speech
    detector.reset()
    assert not detector.in_speech
    assert run(detector, silence(2.0)) == []


@pytest.mark.parametrize(
    ("setting", "value"),
    [("threshold", 1.5), ("silence_duration_ms", 5), ("prefix_padding_ms", -1)],
)
def test_settings_out_of_range_are_refused(setting: str, value: float) -> None:
    with pytest.raises(ValueError, match=setting):
        TurnDetection(**{setting: value})  # type: ignore[arg-type]


def test_threshold_picks_webrtc_aggressiveness() -> None:
    assert [TurnDetection(threshold=t).vad_mode for t in (0.0, 0.3, 0.5, 0.9, 1.0)] == [
        0,
        1,
        2,
        3,
        3,
    ]
