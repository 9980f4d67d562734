"""Settings: one validated object, built from ``UNMUTE_*`` variables with overrides on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from unmute_server.llm import LLMSettings
from unmute_server.llm.settings import EmbeddedLLMSettings
from unmute_server.server.settings import OPTIONS, Settings, SettingsError, parse_bool


def test_defaults_are_the_documented_ones() -> None:
    settings = Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.packs_root == Path("character_packs")
    assert settings.default_pack == "default"
    assert settings.max_message_bytes == 1024 * 1024
    assert settings.heartbeat_seconds == 30
    assert settings.max_sessions == 10_000
    assert (settings.reload_limit, settings.reload_window_seconds) == (10, 10)
    assert settings.outbox_limit == 256
    assert settings.outbox_limit_bytes == 16 * 1024 * 1024
    assert (settings.close_timeout, settings.header_timeout) == (10, 10)
    assert settings.ws_compression is False
    assert (settings.timezone, settings.language, settings.news_file) == ("UTC", "en", None)


def test_every_variable_is_read() -> None:
    env = {
        "UNMUTE_HOST": "0.0.0.0",  # noqa: S104
        "UNMUTE_PORT": "0",
        "UNMUTE_PACKS_ROOT": "/srv/packs",
        "UNMUTE_DEFAULT_PACK": "classics",
        "UNMUTE_MAX_MESSAGE_BYTES": "15728640",
        "UNMUTE_HEARTBEAT_SECONDS": "12.5",
        "UNMUTE_MAX_SESSIONS": "3",
        "UNMUTE_RELOAD_LIMIT": "4",
        "UNMUTE_RELOAD_WINDOW_SECONDS": "60",
        "UNMUTE_OUTBOX_LIMIT": "16",
        "UNMUTE_OUTBOX_LIMIT_BYTES": "65536",
        "UNMUTE_WS_COMPRESSION": "yes",
        "UNMUTE_SHUTDOWN_TIMEOUT": "0",
        "UNMUTE_PACK_BUILD_CPU_SECONDS": "0.5",
        "UNMUTE_PACK_BUILD_MEMORY_MIB": "256",
        "UNMUTE_MAX_CONCURRENT_BUILDS": "2",
        "UNMUTE_CLOSE_TIMEOUT": "2.5",
        "UNMUTE_HEADER_TIMEOUT": "4",
        "UNMUTE_TIMEZONE": "Europe/Paris",
        "UNMUTE_LANGUAGE": "en/fr",
        "UNMUTE_NEWS_FILE": "/srv/news.txt",
        "UNMUTE_CORS_ORIGINS": "https://unmute.example.com,http://localhost:*",
        "UNMUTE_WATCH_PACKS": "on",
        "UNMUTE_LOG_FORMAT": "json",
    }
    assert set(env) == {option.env for option in OPTIONS}
    settings = Settings.from_environment(env)
    assert settings == Settings(
        host="0.0.0.0",  # noqa: S104
        port=0,
        packs_root=Path("/srv/packs"),
        default_pack="classics",
        max_message_bytes=15 * 1024 * 1024,
        heartbeat_seconds=12.5,
        max_sessions=3,
        reload_limit=4,
        reload_window_seconds=60,
        outbox_limit=16,
        outbox_limit_bytes=65536,
        ws_compression=True,
        shutdown_timeout=0,
        pack_build_cpu_seconds=0.5,
        pack_build_memory_mib=256,
        max_concurrent_builds=2,
        close_timeout=2.5,
        header_timeout=4,
        timezone="Europe/Paris",
        language="en/fr",
        news_file=Path("/srv/news.txt"),
        cors_origins=("https://unmute.example.com", "http://localhost:*"),
        watch_packs=True,
        log_format="json",
        llm=EmbeddedLLMSettings(),
    )


def test_an_unknown_log_format_is_refused_with_the_choices() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment({"UNMUTE_LOG_FORMAT": "xml"})
    assert str(raised.value) == "log_format must be one of text, json, not 'xml'"


def test_overrides_win_over_the_environment_and_none_means_not_given() -> None:
    env = {"UNMUTE_PORT": "9000", "UNMUTE_DEFAULT_PACK": "classics"}
    settings = Settings.from_environment(env, port=0, default_pack=None)
    assert settings.port == 0
    assert settings.default_pack == "classics"


def test_empty_variables_are_ignored() -> None:
    assert Settings.from_environment({"UNMUTE_PORT": ""}).port == 8000


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"UNMUTE_PORT": "eighty"}, "UNMUTE_PORT='eighty': expected a whole number"),
        ({"UNMUTE_PORT": "70000"}, "port must be between 0 and 65535"),
        ({"UNMUTE_MAX_SESSIONS": "0"}, "max_sessions must be at least 1"),
        ({"UNMUTE_HEARTBEAT_SECONDS": "-1"}, "heartbeat_seconds must be a positive"),
        ({"UNMUTE_HEARTBEAT_SECONDS": "nan"}, "UNMUTE_HEARTBEAT_SECONDS='nan'"),
        ({"UNMUTE_WS_COMPRESSION": "maybe"}, "UNMUTE_WS_COMPRESSION='maybe': expected one of"),
        ({"UNMUTE_SHUTDOWN_TIMEOUT": "-2"}, "shutdown_timeout must be zero or more"),
        ({"UNMUTE_PACK_BUILD_CPU_SECONDS": "0"}, "pack_build_cpu_seconds must be a positive"),
        ({"UNMUTE_PACK_BUILD_MEMORY_MIB": "0"}, "pack_build_memory_mib must be at least 1"),
        ({"UNMUTE_MAX_CONCURRENT_BUILDS": "0"}, "max_concurrent_builds must be at least 1"),
        ({"UNMUTE_OUTBOX_LIMIT_BYTES": "0"}, "outbox_limit_bytes must be at least 1"),
        ({"UNMUTE_CLOSE_TIMEOUT": "0"}, "close_timeout must be a positive"),
        ({"UNMUTE_HEADER_TIMEOUT": "inf"}, "UNMUTE_HEADER_TIMEOUT='inf'"),
        ({"UNMUTE_TIMEZONE": "Mars/Olympus"}, "timezone 'Mars/Olympus' is not an IANA"),
        ({"UNMUTE_TIMEZONE": "../../etc/passwd"}, "is not an IANA time zone"),
        ({"UNMUTE_LANGUAGE": "english"}, "language must be a code such as 'en'"),
        ({"UNMUTE_LANGUAGE": "english"}, "did you mean `en`?"),
        ({"UNMUTE_LANGUAGE": "zz"}, "`zz` is not an ISO 639-1 code"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment(env)
    assert fragment in str(raised.value)


def test_settings_are_frozen_and_replace_validates() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]
    assert settings.replace(port=0).port == 0
    with pytest.raises(SettingsError):
        settings.replace(outbox_limit=0)


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("TRUE", True), ("off", False)])
def test_parse_bool_reads_the_usual_spellings(raw: str, value: bool) -> None:
    assert parse_bool(raw) is value


# --------------------------------------------------------------------------- LLM

SECRET = "sk-do-not-show-0123456789"  # noqa: S105 (a fake, to prove it is never shown)


def test_settings_built_in_code_have_no_llm_so_tests_start_no_model() -> None:
    assert Settings().llm is None


def test_no_llm_variables_means_the_embedded_model() -> None:
    assert Settings.from_environment({}).llm == EmbeddedLLMSettings()
    assert Settings.from_environment({"UNMUTE_LLM_URL": ""}).llm == EmbeddedLLMSettings()


def test_llm_off_means_no_llm() -> None:
    assert Settings.from_environment({"UNMUTE_LLM": "off"}).llm is None
    assert Settings.from_environment({}, llm_flags={"--llm": "off"}).llm is None


def test_embedded_llm_variables_and_flags_are_read() -> None:
    env = {
        "UNMUTE_LLM": "embedded",
        "UNMUTE_LLM_SLOTS": "3",
        "UNMUTE_LLM_THREADS": "2",
        "UNMUTE_LLM_MAX_TOKENS": "40",
        "UNMUTE_LLM_CONTEXT": "1024",
        "UNMUTE_LLM_MODEL_FILE": "/srv/model.gguf",
        "UNMUTE_LLM_FIRST_TOKEN_TIMEOUT": "9",
    }
    assert Settings.from_environment(env, llm_flags={"--llm-slots": "4"}).llm == (
        EmbeddedLLMSettings(
            model_file=Path("/srv/model.gguf"),
            threads=2,
            slots=4,
            max_tokens=40,
            context=1024,
            first_token_timeout=9.0,
        )
    )


def test_a_remote_llm_may_have_slots_too() -> None:
    env = {"UNMUTE_LLM_URL": "http://127.0.0.1:8080/v1", "UNMUTE_LLM_MODEL": "m"}
    llm = Settings.from_environment(env, llm_flags={"--llm-slots": "8"}).llm
    assert llm == LLMSettings(url="http://127.0.0.1:8080/v1", model="m", slots=8)


def test_a_remote_llm_has_a_context_only_when_one_is_given() -> None:
    env = {"UNMUTE_LLM_URL": "http://127.0.0.1:8080/v1", "UNMUTE_LLM_MODEL": "m"}
    assert Settings.from_environment(env).llm == LLMSettings(
        url="http://127.0.0.1:8080/v1", model="m"
    )
    env["UNMUTE_LLM_CONTEXT"] = "8192"
    llm = Settings.from_environment(env).llm
    assert llm == LLMSettings(url="http://127.0.0.1:8080/v1", model="m", context=8192)
    llm = Settings.from_environment(env, llm_flags={"--llm-context": "4096"}).llm
    assert isinstance(llm, LLMSettings)
    assert llm.context == 4096


def test_the_llm_context_flag_sets_the_embedded_models_context() -> None:
    llm = Settings.from_environment({}, llm_flags={"--llm-context": "1024"}).llm
    assert llm == EmbeddedLLMSettings(context=1024)


@pytest.mark.parametrize(
    ("env", "flags", "message"),
    [
        ({"UNMUTE_LLM": "big"}, {}, "UNMUTE_LLM must be one of embedded, remote, off, got 'big'"),
        ({}, {"--llm-context": "0"}, "--llm-context must be a whole number of at least 1"),
        (
            {"UNMUTE_LLM_CONTEXT": "300", "UNMUTE_LLM_MAX_TOKENS": "280"},
            {},
            r"context \(300 tokens\) leaves fewer than 64 tokens for the prompt beside 280",
        ),
        (
            {"UNMUTE_LLM_URL": "http://127.0.0.1/v1", "UNMUTE_LLM_MODEL": "m"},
            {"--llm-context": "80"},
            r"context \(80 tokens\) leaves fewer than 64 tokens for the prompt beside 20",
        ),
        ({}, {"--llm": "big"}, "--llm must be one of embedded, remote, off"),
        ({}, {"--llm": "remote"}, "--llm is remote but UNMUTE_LLM_URL is not set"),
        (
            {"UNMUTE_LLM_URL": "http://127.0.0.1/v1", "UNMUTE_LLM_MODEL": "m"},
            {"--llm": "embedded"},
            "--llm is embedded but UNMUTE_LLM_URL is set",
        ),
        ({}, {"--llm-slots": "0"}, "--llm-slots must be a whole number of at least 1"),
        ({"UNMUTE_LLM_THREADS": "two"}, {}, "UNMUTE_LLM_THREADS must be a whole number"),
        ({"UNMUTE_LLM_CONTEXT": "100"}, {}, "context must be at least 256 tokens"),
    ],
)
def test_bad_llm_choice_names_the_variable_or_flag(
    env: dict[str, str], flags: dict[str, str | None], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_environment(env, llm_flags=flags)


def test_llm_is_built_from_its_variables() -> None:
    env = {
        "UNMUTE_LLM_URL": "http://127.0.0.1:8080/v1",
        "UNMUTE_LLM_MODEL": "local",
        "UNMUTE_LLM_API_KEY": SECRET,
        "UNMUTE_LLM_FIRST_TOKEN_TIMEOUT": "3",
    }
    llm = Settings.from_environment(env).llm
    assert llm == LLMSettings(
        url="http://127.0.0.1:8080/v1", model="local", api_key=SECRET, first_token_timeout=3.0
    )


def test_llm_flags_win_over_the_variables() -> None:
    env = {"UNMUTE_LLM_URL": "http://env:1/v1", "UNMUTE_LLM_MODEL": "env-model"}
    flags = {"--llm-url": "http://flag:2/v1", "--llm-model": None, "--llm-api-key": SECRET}
    llm = Settings.from_environment(env, llm_flags=flags).llm
    assert isinstance(llm, LLMSettings)
    assert (llm.url, llm.model, llm.api_key) == ("http://flag:2/v1", "env-model", SECRET)


def test_an_explicit_llm_override_wins_over_everything() -> None:
    chosen = LLMSettings(url="http://chosen:3/v1", model="m")
    env = {"UNMUTE_LLM_URL": "not a url"}
    assert Settings.from_environment(env, llm=chosen).llm is chosen


@pytest.mark.parametrize(
    ("env", "flags", "message"),
    [
        (
            {"UNMUTE_LLM_URL": "http://127.0.0.1/v1"},
            {},
            "UNMUTE_LLM_URL is set but UNMUTE_LLM_MODEL is not",
        ),
        ({}, {"--llm-url": "http://127.0.0.1/v1"}, "--llm-url is set but UNMUTE_LLM_MODEL"),
        ({}, {"--llm-model": "m"}, "--llm-model is set but UNMUTE_LLM_URL is not"),
        (
            {"UNMUTE_LLM_MODEL": "m"},
            {"--llm-url": f"ftp://user:{SECRET}@host/v1"},
            "--llm-url must be an http:// or https:// URL",
        ),
    ],
)
def test_bad_llm_settings_name_the_variable_or_flag_and_never_the_url(
    env: dict[str, str], flags: dict[str, str | None], message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_environment(env, llm_flags=flags)
    assert message in str(raised.value)
    assert SECRET not in str(raised.value)


def test_neither_the_llm_url_nor_its_key_appears_in_the_settings_repr() -> None:
    llm = LLMSettings(url=f"http://user:{SECRET}@llm:8000/v1", model="m", api_key=SECRET)
    settings = Settings(llm=llm)
    assert SECRET not in repr(settings)
    assert SECRET not in repr(llm)
