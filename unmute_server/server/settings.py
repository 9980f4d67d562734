"""The server's one typed configuration object, and how it is built from the environment.

``Settings`` is built once (by ``unmute-server serve`` from flags over environment, or by a
test from keyword arguments) and passed to :func:`unmute_server.server.app.create_app`; no other
module reads ``os.environ``. One table, :data:`OPTIONS`, names every setting's environment
variable, flag and parser, so the CLI, :meth:`Settings.from_environment` and the table in
docs/operations.md cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from unmute_server.characters.languages import language_problem
from unmute_server.llm import LLMSettingsError
from unmute_server.llm.settings import (
    ENV_API_KEY,
    ENV_CONTEXT,
    ENV_LLM,
    ENV_MAX_TOKENS,
    ENV_MODEL,
    ENV_SLOTS,
    ENV_THREADS,
    ENV_URL,
    AnyLLMSettings,
    LLMSettings,
    choose_llm,
)
from unmute_server.server.origins import DEFAULT_CORS_ORIGINS, origin_problem, parse_origins
from unmute_server.voice.settings import (
    VOICE_OPTIONS,
    VoiceSettings,
    VoiceSettingsError,
    voice_settings_from,
)

MIB = 1024 * 1024

#: What ``--log-format`` accepts: lines for people (the default), or one JSON object a line.
LOG_FORMATS = ("text", "json")


class SettingsError(ValueError):
    """A setting has a value the server cannot run with; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an operator can configure, validated on construction.

    Limits exist so one client cannot cost the server more than its share: a message larger
    than ``max_message_bytes`` closes that connection (1009); more than ``max_sessions``
    open sessions are refused (1013); a session may reload ``reload_limit`` times per
    ``reload_window_seconds``; a client that leaves ``outbox_limit`` events or
    ``outbox_limit_bytes`` bytes unread is disconnected (1008), and a closing connection
    that has not finished within ``close_timeout`` seconds is aborted, so a client that
    never reads cannot keep a socket open; a connection must send its request headers
    within ``header_timeout`` seconds. A pack that is not in the cache is built in a child
    process that may use ``pack_build_cpu_seconds`` of CPU time and ``pack_build_memory_mib``
    of memory, at most ``max_concurrent_builds`` at once in the process (over its budget: error
    ``pack_too_costly``). ``ws_compression`` is off by default because an accepted
    permessage-deflate context costs about 100 KiB per connection against about 15 KiB
    without, and the events are small. ``llm`` is the LLM the conversations use: a remote
    chat-completions server, the embedded model (what :meth:`from_environment` chooses
    when no URL is given), or ``None`` (the default of a ``Settings`` built in code, which
    tests rely on: no model is started unless asked for), which serves characters without
    one (``response.create`` is then answered ``llm_unavailable``). It is kept out of
    ``repr``: a URL may hold credentials.
    ``timezone``, ``language`` and ``news_file`` are what a rendered prompt says about the
    moment, which language to speak, and the day's headlines (for ``news`` characters).
    ``cors_origins`` are the web pages' origins that may read the HTTP routes and open a
    WebSocket (see :mod:`unmute_server.server.cors`). ``watch_packs`` re-reads the default
    pack when its files change (SIGHUP always does); ``log_format`` is ``text`` or ``json``.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    packs_root: Path = Path("character_packs")
    default_pack: str = "default"
    max_message_bytes: int = MIB
    heartbeat_seconds: float = 30.0
    max_sessions: int = 10_000
    reload_limit: int = 10
    reload_window_seconds: float = 10.0
    outbox_limit: int = 256
    outbox_limit_bytes: int = 16 * MIB
    ws_compression: bool = False
    shutdown_timeout: float = 10.0
    close_timeout: float = 10.0
    header_timeout: float = 10.0
    pack_build_cpu_seconds: float = 5.0
    pack_build_memory_mib: int = 1024
    max_concurrent_builds: int = 1
    timezone: str = "UTC"
    language: str = "en"
    news_file: Path | None = None
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    watch_packs: bool = False
    log_format: str = "text"
    llm: AnyLLMSettings | None = field(default=None, repr=False)
    voice: VoiceSettings = field(default_factory=VoiceSettings)

    def __post_init__(self) -> None:
        if not self.host:
            raise SettingsError("host must not be empty")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be between 0 and 65535, not {self.port}")
        if not self.default_pack:
            raise SettingsError("default_pack must name a pack folder")
        for name in (
            "max_message_bytes",
            "max_sessions",
            "reload_limit",
            "outbox_limit",
            "outbox_limit_bytes",
            "pack_build_memory_mib",
            "max_concurrent_builds",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in (
            "heartbeat_seconds",
            "reload_window_seconds",
            "close_timeout",
            "header_timeout",
            "pack_build_cpu_seconds",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise SettingsError(f"{name} must be a positive number of seconds, not {value}")
        if not math.isfinite(self.shutdown_timeout) or self.shutdown_timeout < 0:
            raise SettingsError(
                f"shutdown_timeout must be zero or more seconds, not {self.shutdown_timeout}"
            )
        self.zone()  # raises SettingsError for a zone this machine does not know
        if not self.cors_origins:
            raise SettingsError("cors_origins must name at least one origin, or '*'")
        for origin in self.cors_origins:
            problem = origin_problem(origin)
            if problem is not None:
                raise SettingsError(f"cors_origins: {problem}")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(
                f"log_format must be one of {', '.join(LOG_FORMATS)}, not {self.log_format!r}"
            )
        problem = language_problem(self.language)
        if problem is not None:
            raise SettingsError(
                f"language must be a code such as 'en' or a pair such as 'en/fr': {problem}"
            )

    def zone(self) -> ZoneInfo:
        """The time zone prompts are rendered in."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"timezone {self.timezone!r} is not an IANA time zone name such as "
                "'UTC' or 'Europe/Paris'"
            ) from None

    @classmethod
    def from_environment(
        cls,
        env: Mapping[str, str],
        *,
        llm_flags: Mapping[str, str | None] | None = None,
        voice_flags: Mapping[str, str | None] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Settings from ``UNMUTE_*`` variables in ``env``, then ``overrides`` on top.

        ``overrides`` whose value is ``None`` are ignored, so a CLI can pass every flag as
        parsed and only the ones given win. ``llm_flags`` maps an :data:`LLM_OPTIONS` flag
        (``--llm-url``...) to its value and wins over that option's variable; an ``llm``
        override wins over both. Raises :class:`SettingsError` naming the variable (or flag)
        when a value cannot be parsed.
        """
        values: dict[str, Any] = {}
        if overrides.get("llm") is None:
            values["llm"] = llm_settings(env, llm_flags or {})
        if overrides.get("voice") is None:
            values["voice"] = voice_settings(env, voice_flags or {})
        for option in OPTIONS:
            raw = env.get(option.env)
            if raw is None or raw == "":
                continue
            try:
                values[option.field] = option.parse(raw)
            except ValueError as error:
                raise SettingsError(f"{option.env}={raw!r}: {error}") from None
        values.update({name: value for name, value in overrides.items() if value is not None})
        return cls(**values)

    def secrets(self) -> tuple[str, ...]:
        """What no log line may show: the LLM's and the engines' keys, and the passwords of
        their URLs (see :mod:`unmute_server.server.logs`)."""
        found: list[str | None] = []
        if isinstance(self.llm, LLMSettings):  # the embedded model has no key and no URL
            found += [self.llm.api_key, urlsplit(self.llm.url).password]
        for engine in (self.voice.stt, self.voice.tts):
            found += [engine.api_key, urlsplit(engine.url or "").password]
        return tuple(secret for secret in found if secret)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)


def llm_settings(env: Mapping[str, str], flags: Mapping[str, str | None]) -> AnyLLMSettings | None:
    """The LLM from ``UNMUTE_LLM`` and ``UNMUTE_LLM_*`` variables with the given ``flags`` on
    top: the embedded model unless a URL is given or ``--llm`` says otherwise.

    The flags are laid over the variables they stand for and read by
    :func:`~unmute_server.llm.settings.choose_llm`, so a flag and its variable obey the same
    rules. In
    an error message a variable that a flag replaced is named by that flag. Neither the URL
    nor the key is ever quoted: either may be a secret.
    """
    merged = dict(env)
    given: dict[str, str] = {}
    for option in LLM_OPTIONS:
        value = flags.get(option.flag)
        if value is not None:
            merged[option.env] = value
            given[option.env] = option.flag
    try:
        return choose_llm(merged)
    except LLMSettingsError as error:
        message = str(error)
        for variable, flag in given.items():
            # Whole names only: UNMUTE_LLM is also the start of UNMUTE_LLM_URL.
            message = re.sub(rf"\b{variable}\b", flag, message)
        raise SettingsError(message) from None


def voice_settings(env: Mapping[str, str], flags: Mapping[str, str | None]) -> VoiceSettings:
    """The speech engines from ``UNMUTE_STT*``/``UNMUTE_TTS*`` variables with ``flags`` on top,
    named by the flag in an error when a flag replaced the variable (as for the LLM)."""
    merged = dict(env)
    given: dict[str, str] = {}
    for option in VOICE_OPTIONS:
        value = flags.get(option.flag) if option.flag is not None else None
        if value is not None and option.flag is not None:
            merged[option.env] = value
            given[option.env] = option.flag
    try:
        return voice_settings_from(merged)
    except VoiceSettingsError as error:
        message = str(error)
        for variable, flag in sorted(given.items(), key=lambda item: -len(item[0])):
            message = message.replace(variable, flag)
        raise SettingsError(message) from None


def parse_bool(raw: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off``, any case."""
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected one of 1, true, yes, on, 0, false, no, off")


def _parse_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None


def _parse_float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number") from None
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _parse_path(raw: str) -> Path:
    return Path(raw)


def _parse_str(raw: str) -> str:
    return raw


@dataclass(frozen=True, slots=True)
class Option:
    """One setting as the operator sees it: its variable, its flag, how to parse it."""

    field: str
    env: str
    flag: str
    parse: Callable[[str], Any]
    help: str

    @property
    def default(self) -> Any:
        return _DEFAULTS[self.field]


_DEFAULTS: dict[str, Any] = {
    setting.name: setting.default for setting in dataclasses.fields(Settings)
}

#: Every setting, in the order docs/operations.md documents them.
OPTIONS: tuple[Option, ...] = (
    Option("host", "UNMUTE_HOST", "--host", _parse_str, "address to listen on"),
    Option("port", "UNMUTE_PORT", "--port", _parse_int, "TCP port; 0 picks a free one"),
    Option(
        "packs_root",
        "UNMUTE_PACKS_ROOT",
        "--packs-root",
        _parse_path,
        "folder holding the character packs; clients may only name folders directly in it",
    ),
    Option(
        "default_pack",
        "UNMUTE_DEFAULT_PACK",
        "--default-pack",
        _parse_str,
        "pack every new session starts with; must have at least one valid character",
    ),
    Option(
        "max_message_bytes",
        "UNMUTE_MAX_MESSAGE_BYTES",
        "--max-message-bytes",
        _parse_int,
        "largest WebSocket message accepted, in bytes; one byte more closes that connection (1009)",
    ),
    Option(
        "heartbeat_seconds",
        "UNMUTE_HEARTBEAT_SECONDS",
        "--heartbeat-seconds",
        _parse_float,
        "ping interval; a peer that does not answer within half of it is disconnected",
    ),
    Option(
        "max_sessions",
        "UNMUTE_MAX_SESSIONS",
        "--max-sessions",
        _parse_int,
        "open sessions per process; one more gets error too_many_sessions and close 1013",
    ),
    Option(
        "reload_limit",
        "UNMUTE_RELOAD_LIMIT",
        "--reload-limit",
        _parse_int,
        "pack reloads a session may make per reload window (more: error rate_limited)",
    ),
    Option(
        "reload_window_seconds",
        "UNMUTE_RELOAD_WINDOW_SECONDS",
        "--reload-window-seconds",
        _parse_float,
        "the window of the reload limit",
    ),
    Option(
        "outbox_limit",
        "UNMUTE_OUTBOX_LIMIT",
        "--outbox-limit",
        _parse_int,
        "events waiting to be sent to one client before it is disconnected as too slow (1008)",
    ),
    Option(
        "outbox_limit_bytes",
        "UNMUTE_OUTBOX_LIMIT_BYTES",
        "--outbox-limit-bytes",
        _parse_int,
        "bytes waiting to be sent to one client (queued and in the socket's buffer) before it "
        "is disconnected as too slow (1008)",
    ),
    Option(
        "ws_compression",
        "UNMUTE_WS_COMPRESSION",
        "--ws-compression",
        parse_bool,
        "accept permessage-deflate (costs about 100 KiB per connection)",
    ),
    Option(
        "shutdown_timeout",
        "UNMUTE_SHUTDOWN_TIMEOUT",
        "--shutdown-timeout",
        _parse_float,
        "seconds to wait for sessions to close on shutdown before they are cut",
    ),
    Option(
        "close_timeout",
        "UNMUTE_CLOSE_TIMEOUT",
        "--close-timeout",
        _parse_float,
        "seconds a closing connection may take to deliver what it holds and its close before "
        "its socket is aborted (a client cut off as too slow, one that never answers a close)",
    ),
    Option(
        "header_timeout",
        "UNMUTE_HEADER_TIMEOUT",
        "--header-timeout",
        _parse_float,
        "seconds a connection may take to send its request headers (from connecting, or from "
        "its previous answer when kept alive) before it is closed",
    ),
    Option(
        "pack_build_cpu_seconds",
        "UNMUTE_PACK_BUILD_CPU_SECONDS",
        "--pack-build-cpu-seconds",
        _parse_float,
        "CPU time one pack's build may use before it is stopped (error pack_too_costly)",
    ),
    Option(
        "pack_build_memory_mib",
        "UNMUTE_PACK_BUILD_MEMORY_MIB",
        "--pack-build-memory-mib",
        _parse_int,
        "memory one pack's build process may add to what it starts with, in MiB",
    ),
    Option(
        "max_concurrent_builds",
        "UNMUTE_MAX_CONCURRENT_BUILDS",
        "--max-concurrent-builds",
        _parse_int,
        "pack builds (cache misses) running at once in the process; the others wait their turn",
    ),
    Option(
        "timezone",
        "UNMUTE_TIMEZONE",
        "--timezone",
        _parse_str,
        "IANA time zone of the date and time prompts give, e.g. Europe/Paris",
    ),
    Option(
        "language",
        "UNMUTE_LANGUAGE",
        "--language",
        _parse_str,
        "conversation language of characters that name none: en, fr, or a pair like en/fr",
    ),
    Option(
        "news_file",
        "UNMUTE_NEWS_FILE",
        "--news-file",
        _parse_path,
        "text file of news headlines, one per line, for news characters; re-read when it changes",
    ),
    Option(
        "cors_origins",
        "UNMUTE_CORS_ORIGINS",
        "--cors-origins",
        parse_origins,
        "comma-separated origins of the web pages that may read /v1/health and /v1/voices and "
        "open /v1/realtime: '*' for any, an exact origin, or one with ':*' for any port",
    ),
    Option(
        "watch_packs",
        "UNMUTE_WATCH_PACKS",
        "--watch-packs",
        parse_bool,
        "re-read the default pack when its files change (SIGHUP always re-reads it)",
    ),
    Option(
        "log_format",
        "UNMUTE_LOG_FORMAT",
        "--log-format",
        _parse_str,
        "text (lines for people) or json (one JSON object a line, for log shippers)",
    ),
)


@dataclass(frozen=True, slots=True)
class LLMOption:
    """An LLM connection setting: read by :func:`llm_settings`, not parsed on its own.

    The LLM's timeouts, context and model file are read from their ``UNMUTE_LLM_*``
    variables only (see :mod:`unmute_server.llm.settings`); these have flags as well.
    """

    env: str
    flag: str
    help: str


#: The LLM settings that ``serve`` also takes as flags (flags win over the variables).
LLM_OPTIONS: tuple[LLMOption, ...] = (
    LLMOption(
        ENV_LLM,
        "--llm",
        "which LLM: embedded (a small model run in this process; the default without a URL), "
        "remote (the server at --llm-url; the default with one) or off",
    ),
    LLMOption(
        ENV_URL,
        "--llm-url",
        "OpenAI-compatible API base URL including /v1, e.g. http://127.0.0.1:8000/v1; "
        "unset: the embedded model",
    ),
    LLMOption(ENV_MODEL, "--llm-model", "model name sent to the LLM (required with the URL)"),
    LLMOption(
        ENV_API_KEY,
        "--llm-api-key",
        "bearer token for the LLM; prefer the variable, a flag shows in the process list",
    ),
    LLMOption(
        ENV_SLOTS,
        "--llm-slots",
        "answers streamed at once; more wait their turn in order (embedded default 2; "
        "remote default: no limit)",
    ),
    LLMOption(
        ENV_THREADS,
        "--llm-threads",
        "CPU threads of the embedded model (default 1)",
    ),
    LLMOption(
        ENV_CONTEXT,
        "--llm-context",
        "tokens of prompt and answer the LLM holds (one slot's, embedded default 2048); "
        "requests leave out the oldest turns to fit it (remote default: unknown, all sent)",
    ),
    LLMOption(
        ENV_MAX_TOKENS,
        "--llm-max-tokens",
        "most tokens of one answer (embedded default 80; remote default: the server's)",
    ),
)
