"""LLM settings: read from a given mapping, None when unconfigured, errors naming the variable."""

from __future__ import annotations

import pytest

from unmute_server.llm import LLMSettings, LLMSettingsError
from unmute_server.llm.settings import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_FIRST_TOKEN_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT,
)

SECRET = "sk-do-not-print-me"  # noqa: S105 (a test value)


def test_no_url_and_no_model_means_no_llm() -> None:
    assert LLMSettings.from_environment({}) is None
    assert LLMSettings.from_environment({"UNMUTE_LLM_URL": "", "UNMUTE_LLM_MODEL": " "}) is None


def test_url_and_model_give_settings_with_default_timeouts() -> None:
    settings = LLMSettings.from_environment(
        {"UNMUTE_LLM_URL": "http://127.0.0.1:8000/v1", "UNMUTE_LLM_MODEL": "mistral-small"}
    )
    assert settings == LLMSettings(url="http://127.0.0.1:8000/v1", model="mistral-small")
    assert settings.api_key is None
    assert settings.connect_timeout == DEFAULT_CONNECT_TIMEOUT
    assert settings.first_token_timeout == DEFAULT_FIRST_TOKEN_TIMEOUT
    assert settings.total_timeout == DEFAULT_TOTAL_TIMEOUT
    assert settings.max_tokens is None


def test_every_variable_is_read() -> None:
    settings = LLMSettings.from_environment(
        {
            "UNMUTE_LLM_URL": "https://llm.example/v1",
            "UNMUTE_LLM_MODEL": "gpt-4o-mini",
            "UNMUTE_LLM_API_KEY": SECRET,
            "UNMUTE_LLM_CONNECT_TIMEOUT": "2.5",
            "UNMUTE_LLM_FIRST_TOKEN_TIMEOUT": "7",
            "UNMUTE_LLM_TOTAL_TIMEOUT": "30",
            "UNMUTE_LLM_MAX_TOKENS": "256",
            "UNMUTE_LLM_CONTEXT": "8192",
        }
    )
    assert settings == LLMSettings(
        url="https://llm.example/v1",
        model="gpt-4o-mini",
        api_key=SECRET,
        connect_timeout=2.5,
        first_token_timeout=7.0,
        total_timeout=30.0,
        max_tokens=256,
        context=8192,
    )


def test_the_api_key_is_not_in_the_repr() -> None:
    settings = LLMSettings(url="http://127.0.0.1:8000/v1", model="m", api_key=SECRET)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"UNMUTE_LLM_URL": "http://127.0.0.1:8000/v1"}, "UNMUTE_LLM_MODEL is not"),
        ({"UNMUTE_LLM_MODEL": "m"}, "UNMUTE_LLM_URL is not"),
        ({"UNMUTE_LLM_URL": "127.0.0.1:8000", "UNMUTE_LLM_MODEL": "m"}, "UNMUTE_LLM_URL must be"),
        ({"UNMUTE_LLM_URL": "ftp://host/v1", "UNMUTE_LLM_MODEL": "m"}, "UNMUTE_LLM_URL must be"),
        ({"UNMUTE_LLM_URL": "http:///v1", "UNMUTE_LLM_MODEL": "m"}, "UNMUTE_LLM_URL must be"),
        ({"UNMUTE_LLM_URL": "http://[::1/v1", "UNMUTE_LLM_MODEL": "m"}, "UNMUTE_LLM_URL must be"),
    ],
)
def test_incomplete_or_malformed_configuration_names_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(LLMSettingsError, match=message):
        LLMSettings.from_environment(env)


def test_a_url_error_does_not_echo_the_url_which_may_hold_credentials() -> None:
    env = {"UNMUTE_LLM_URL": f"gopher://user:{SECRET}@host/v1", "UNMUTE_LLM_MODEL": "m"}
    with pytest.raises(LLMSettingsError) as caught:
        LLMSettings.from_environment(env)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "name",
    ["UNMUTE_LLM_CONNECT_TIMEOUT", "UNMUTE_LLM_FIRST_TOKEN_TIMEOUT", "UNMUTE_LLM_TOTAL_TIMEOUT"],
)
@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf"])
def test_a_timeout_must_be_a_positive_finite_number(name: str, value: str) -> None:
    env = {"UNMUTE_LLM_URL": "http://127.0.0.1:8000/v1", "UNMUTE_LLM_MODEL": "m", name: value}
    with pytest.raises(LLMSettingsError, match=f"{name} must be a positive number of seconds"):
        LLMSettings.from_environment(env)


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "many"])
def test_max_tokens_must_be_a_whole_number_of_at_least_one(value: str) -> None:
    env = {
        "UNMUTE_LLM_URL": "http://127.0.0.1:8000/v1",
        "UNMUTE_LLM_MODEL": "m",
        "UNMUTE_LLM_MAX_TOKENS": value,
    }
    with pytest.raises(LLMSettingsError, match="UNMUTE_LLM_MAX_TOKENS must be a whole number"):
        LLMSettings.from_environment(env)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(LLMSettingsError, match="model"):
        LLMSettings(url="http://127.0.0.1:8000/v1", model="")
    with pytest.raises(LLMSettingsError, match="total_timeout"):
        LLMSettings(url="http://127.0.0.1:8000/v1", model="m", total_timeout=0)
    with pytest.raises(LLMSettingsError, match="max_tokens"):
        LLMSettings(url="http://127.0.0.1:8000/v1", model="m", max_tokens=0)
    with pytest.raises(LLMSettingsError, match="url"):
        LLMSettings(url="not a url", model="m")


def test_settings_are_frozen() -> None:
    settings = LLMSettings(url="http://127.0.0.1:8000/v1", model="m")
    with pytest.raises(AttributeError):
        settings.model = "other"  # type: ignore[misc]
