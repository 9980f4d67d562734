"""Which speech engines a process uses, from variables and flags."""

from __future__ import annotations

import pytest

from unmute_server.server.settings import Settings, SettingsError
from unmute_server.voice.settings import (
    DEFAULT_OPENAI_STT_MODEL,
    EngineKind,
    VoiceSettingsError,
    voice_settings_from,
)

SECRET_URL = "http://user:hunter2@stt.example:8000/v1"  # noqa: S105 (made up, for the test)


def test_nothing_set_means_the_embedded_engines() -> None:
    voice = Settings.from_environment({}).voice
    assert voice.stt.kind is EngineKind.EMBEDDED
    assert voice.tts.kind is EngineKind.EMBEDDED
    assert voice.max_buffered_seconds == 30.0
    assert voice.worker_niceness == 10


def test_worker_niceness_is_read_from_its_variable_and_its_flag() -> None:
    assert voice_settings_from({"UNMUTE_VOICE_WORKER_NICENESS": "0"}).worker_niceness == 0
    assert voice_settings_from({"UNMUTE_VOICE_WORKER_NICENESS": " 19 "}).worker_niceness == 19
    flagged = Settings.from_environment({}, voice_flags={"--voice-worker-niceness": "3"})
    assert flagged.voice.worker_niceness == 3


def test_remote_engines_take_their_url_model_key_and_timeout() -> None:
    voice = voice_settings_from(
        {
            "UNMUTE_STT": "openai",
            "UNMUTE_STT_URL": SECRET_URL,
            "UNMUTE_STT_API_KEY": "sk-secret",
            "UNMUTE_TTS": "Kyutai",
            "UNMUTE_TTS_URL": "ws://127.0.0.1:8089",
            "UNMUTE_TTS_TIMEOUT": "2.5",
        }
    )
    assert voice.stt.kind is EngineKind.OPENAI
    assert voice.stt.model == DEFAULT_OPENAI_STT_MODEL
    assert voice.stt.api_key == "sk-secret"
    assert voice.tts.kind is EngineKind.KYUTAI
    assert voice.tts.url == "ws://127.0.0.1:8089"
    assert voice.tts.timeout == 2.5
    shown = repr(voice)
    assert "hunter2" not in shown
    assert "sk-secret" not in shown


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"UNMUTE_STT": "whisper"}, "UNMUTE_STT must be one of embedded, kyutai, openai"),
        ({"UNMUTE_TTS": "kyutai"}, "UNMUTE_TTS=kyutai needs UNMUTE_TTS_URL"),
        ({"UNMUTE_STT_URL": "http://127.0.0.1:1/v1"}, "UNMUTE_STT is embedded"),
        ({"UNMUTE_STT": "openai", "UNMUTE_STT_URL": "ftp://x"}, "http:// or https://"),
        ({"UNMUTE_TTS_TIMEOUT": "0"}, "UNMUTE_TTS_TIMEOUT must be a positive"),
        ({"UNMUTE_MAX_AUDIO_BUFFER_SECONDS": "nan"}, "UNMUTE_MAX_AUDIO_BUFFER_SECONDS"),
        ({"UNMUTE_VOICE_WORKER_NICENESS": "20"}, "UNMUTE_VOICE_WORKER_NICENESS must be a whole"),
        ({"UNMUTE_VOICE_WORKER_NICENESS": "-1"}, "UNMUTE_VOICE_WORKER_NICENESS must be a whole"),
        ({"UNMUTE_VOICE_WORKER_NICENESS": "2.5"}, "UNMUTE_VOICE_WORKER_NICENESS must be a whole"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(VoiceSettingsError, match=message):
        voice_settings_from(env)


def test_a_url_is_never_quoted_in_an_error() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environment({"UNMUTE_STT": "openai", "UNMUTE_STT_URL": "gopher://a:pw@h"})
    assert "pw" not in str(refused.value)


def test_flags_win_and_errors_name_the_flag() -> None:
    settings = Settings.from_environment(
        {"UNMUTE_TTS": "embedded"},
        voice_flags={"--tts": "openai", "--tts-url": "http://127.0.0.1:9/v1"},
    )
    assert settings.voice.tts.kind is EngineKind.OPENAI
    with pytest.raises(SettingsError, match="--stt must be one of"):
        Settings.from_environment({}, voice_flags={"--stt": "nope"})
