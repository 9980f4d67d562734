"""LLM connection settings: one frozen value built once by the settings layer and passed in.

Nothing here reads `os.environ`; `LLMSettings.from_environment` takes the mapping it is given, so
the CLI can merge flags over the environment and tests can pass a plain dict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ENV_URL = "UNMUTE_LLM_URL"
ENV_MODEL = "UNMUTE_LLM_MODEL"
ENV_API_KEY = "UNMUTE_LLM_API_KEY"
ENV_CONNECT_TIMEOUT = "UNMUTE_LLM_CONNECT_TIMEOUT"
ENV_FIRST_TOKEN_TIMEOUT = "UNMUTE_LLM_FIRST_TOKEN_TIMEOUT"  # noqa: S105 (a name, not a secret)
ENV_TOTAL_TIMEOUT = "UNMUTE_LLM_TOTAL_TIMEOUT"
ENV_MAX_TOKENS = "UNMUTE_LLM_MAX_TOKENS"

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_FIRST_TOKEN_TIMEOUT = 15.0
DEFAULT_TOTAL_TIMEOUT = 120.0


class LLMSettingsError(ValueError):
    """An LLM setting is missing or malformed; the message names the setting and what it expects."""


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """Where the OpenAI-compatible chat-completions server is and how long to wait for it.

    `url` is the API base the SDK appends `/chat/completions` to (for example
    `http://127.0.0.1:8000/v1` for vLLM, `http://127.0.0.1:11434/v1` for Ollama). Timeouts are
    seconds: `connect_timeout` for the TCP/TLS connection, `first_token_timeout` until the first
    text arrives (and also the longest silence allowed between two reads of the stream),
    `total_timeout` for the whole answer. The API key and the URL (which may carry
    `user:password@`) are kept out of `repr` so settings can be logged.
    """

    url: str = field(repr=False)
    model: str
    api_key: str | None = field(default=None, repr=False)
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    first_token_timeout: float = DEFAULT_FIRST_TOKEN_TIMEOUT
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        _check_url(self.url, "url")
        if not self.model.strip():
            raise LLMSettingsError("model must name the model to ask for, and is empty")
        for name in ("connect_timeout", "first_token_timeout", "total_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise LLMSettingsError(
                    f"{name} must be a positive number of seconds, got {value!r}"
                )
        if self.max_tokens is not None and self.max_tokens < 1:
            raise LLMSettingsError(f"max_tokens must be at least 1, got {self.max_tokens}")

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> LLMSettings | None:
        """Build settings from `UNMUTE_LLM_*` variables, or None when no LLM is configured.

        An LLM is configured when `UNMUTE_LLM_URL` is set (non-empty); it then needs
        `UNMUTE_LLM_MODEL`. Empty values count as unset, so `UNMUTE_LLM_URL=` disables the LLM.
        Raises `LLMSettingsError` naming the variable when a value is present but unusable.
        """
        url = env.get(ENV_URL, "").strip()
        model = env.get(ENV_MODEL, "").strip()
        if not url:
            if model:
                raise LLMSettingsError(
                    f"{ENV_MODEL} is set but {ENV_URL} is not; set both or neither"
                )
            return None
        if not model:
            raise LLMSettingsError(
                f"{ENV_URL} is set but {ENV_MODEL} is not; name the model to use"
            )
        _check_url(url, ENV_URL)
        return cls(
            url=url,
            model=model,
            api_key=env.get(ENV_API_KEY) or None,
            connect_timeout=_seconds(env, ENV_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT),
            first_token_timeout=_seconds(env, ENV_FIRST_TOKEN_TIMEOUT, DEFAULT_FIRST_TOKEN_TIMEOUT),
            total_timeout=_seconds(env, ENV_TOTAL_TIMEOUT, DEFAULT_TOTAL_TIMEOUT),
            max_tokens=_positive_int(env, ENV_MAX_TOKENS),
        )


def _check_url(url: str, name: str) -> None:
    # The URL itself is not echoed: it may carry credentials (http://user:secret@host/v1).
    try:
        parts = urlsplit(url)
        has_host = bool(parts.hostname)
    except ValueError:
        has_host = False
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not has_host:
        raise LLMSettingsError(
            f"{name} must be an http:// or https:// URL with a host, "
            "such as http://127.0.0.1:8000/v1"
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise LLMSettingsError(f"{name} must be a positive number of seconds, got {text!r}")
    return value


def _positive_int(env: Mapping[str, str], name: str) -> int | None:
    text = env.get(name, "").strip()
    if not text:
        return None
    if not text.isdecimal() or int(text) < 1:
        raise LLMSettingsError(f"{name} must be a whole number of at least 1, got {text!r}")
    return int(text)
