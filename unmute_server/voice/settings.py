"""Which speech engines a process uses and how to reach them: one frozen value, built once.

Like :mod:`unmute_server.llm.settings`, nothing here reads ``os.environ``: the server's settings
layer passes the mapping (variables with the flags laid over them). The default is the embedded
engines, so a server started with no voice setting at all speaks and listens offline. URLs and
keys are never quoted in an error message or a ``repr``: either may hold a secret.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit


class VoiceSettingsError(ValueError):
    """A voice setting is missing or malformed; the message names the setting."""


class EngineKind(enum.StrEnum):
    """Which implementation of an engine interface a process uses."""

    EMBEDDED = "embedded"
    KYUTAI = "kyutai"
    OPENAI = "openai"


#: What an OpenAI-compatible engine asks for when no model is named.
DEFAULT_OPENAI_STT_MODEL: Final = "whisper-1"
DEFAULT_OPENAI_TTS_MODEL: Final = "tts-1"


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """One engine: its kind, and for a remote one where it is and how to talk to it.

    ``url`` is the Kyutai server's base (``ws://host:8080``; the adapter appends its path) or
    the OpenAI-compatible API base (``http://host:8000/v1``). ``timeout`` bounds connecting
    and every wait for an answer, in seconds.
    """

    kind: EngineKind = EngineKind.EMBEDDED
    url: str | None = field(default=None, repr=False)
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise VoiceSettingsError(
                f"timeout must be a positive number of seconds, not {self.timeout}"
            )


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """The speech-to-text and text-to-speech engines, and the per-session audio bound."""

    stt: EngineSettings = field(default_factory=EngineSettings)
    tts: EngineSettings = field(default_factory=EngineSettings)
    #: Seconds of PCM16 audio a session may have waiting to be processed (Opus, being
    #: smaller, gets proportionally more); past it an append is refused.
    max_buffered_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_buffered_seconds) and self.max_buffered_seconds > 0):
            raise VoiceSettingsError(
                "max_buffered_seconds must be a positive number of seconds, "
                f"not {self.max_buffered_seconds}"
            )


@dataclass(frozen=True, slots=True)
class VoiceOption:
    """One voice setting as the operator sees it: variable, flag (``None`` for a secret,
    which only a variable may carry, so it never shows in a process list) and help."""

    env: str
    flag: str | None
    help: str


#: Every voice setting, in the order docs/operations.md documents them.
VOICE_OPTIONS: Final = (
    VoiceOption("UNMUTE_STT", "--stt", "speech-to-text engine: embedded, kyutai or openai"),
    VoiceOption("UNMUTE_STT_URL", "--stt-url", "the remote speech-to-text server's base URL"),
    VoiceOption(
        "UNMUTE_STT_MODEL", "--stt-model", "model an openai speech-to-text engine asks for"
    ),
    VoiceOption("UNMUTE_STT_API_KEY", None, "key for the remote speech-to-text server"),
    VoiceOption("UNMUTE_STT_TIMEOUT", "--stt-timeout", "seconds to wait for speech-to-text"),
    VoiceOption("UNMUTE_TTS", "--tts", "text-to-speech engine: embedded, kyutai or openai"),
    VoiceOption("UNMUTE_TTS_URL", "--tts-url", "the remote text-to-speech server's base URL"),
    VoiceOption(
        "UNMUTE_TTS_MODEL", "--tts-model", "model an openai text-to-speech engine asks for"
    ),
    VoiceOption("UNMUTE_TTS_API_KEY", None, "key for the remote text-to-speech server"),
    VoiceOption("UNMUTE_TTS_TIMEOUT", "--tts-timeout", "seconds to wait for text-to-speech"),
    VoiceOption(
        "UNMUTE_MAX_AUDIO_BUFFER_SECONDS",
        "--max-audio-buffer-seconds",
        "seconds of PCM16 audio a session may have waiting; past it an append is refused",
    ),
)


def voice_settings_from(env: Mapping[str, str]) -> VoiceSettings:
    """The voice settings from ``UNMUTE_STT*``/``UNMUTE_TTS*`` variables in ``env``."""
    buffered = _number(env, "UNMUTE_MAX_AUDIO_BUFFER_SECONDS", 30.0)
    return VoiceSettings(
        stt=_engine(env, "STT", DEFAULT_OPENAI_STT_MODEL),
        tts=_engine(env, "TTS", DEFAULT_OPENAI_TTS_MODEL),
        max_buffered_seconds=buffered,
    )


def _engine(env: Mapping[str, str], which: str, openai_model: str) -> EngineSettings:
    prefix = f"UNMUTE_{which}"
    raw_kind = env.get(prefix, "").strip().lower() or EngineKind.EMBEDDED.value
    try:
        kind = EngineKind(raw_kind)
    except ValueError:
        choices = ", ".join(kind.value for kind in EngineKind)
        raise VoiceSettingsError(f"{prefix} must be one of {choices}, not {raw_kind!r}") from None
    url = env.get(f"{prefix}_URL", "").strip() or None
    model = env.get(f"{prefix}_MODEL", "").strip() or None
    timeout = _number(env, f"{prefix}_TIMEOUT", 10.0)
    if kind is EngineKind.EMBEDDED:
        if url is not None:
            raise VoiceSettingsError(
                f"{prefix}_URL is set but {prefix} is embedded; "
                f"set {prefix}=kyutai or {prefix}=openai to use a remote engine"
            )
        return EngineSettings(kind, timeout=timeout)
    if url is None:
        raise VoiceSettingsError(f"{prefix}={kind.value} needs {prefix}_URL, the server's base URL")
    schemes = ("ws", "wss", "http", "https") if kind is EngineKind.KYUTAI else ("http", "https")
    _check_url(url, f"{prefix}_URL", schemes)
    if kind is EngineKind.OPENAI and model is None:
        model = openai_model
    api_key = env.get(f"{prefix}_API_KEY") or None
    return EngineSettings(kind, url=url, model=model, api_key=api_key, timeout=timeout)


def _check_url(url: str, name: str, schemes: tuple[str, ...]) -> None:
    try:
        parts = urlsplit(url)
        ok = parts.scheme in schemes and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        shown = " or ".join(f"{scheme}://" for scheme in schemes)
        raise VoiceSettingsError(f"{name} must be a {shown} URL with a host")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise VoiceSettingsError(f"{name} must be a positive number of seconds, got {text!r}")
    return value
