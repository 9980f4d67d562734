"""Log lines for people (``text``) or for log shippers (``json``), with no secret in either.

One handler on the root logger writes every line to stderr, aiohttp's access log included
(it propagates to the root), so the HTTP endpoints' access lines follow ``--log-format`` too.
A ``json`` line is one object: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
``session`` (the short id of the WebSocket session the line was written for, when there is
one, carried by :data:`SESSION_ID` into every task the session starts), ``exception`` when
one is attached, and for an access line the request's ``remote``, ``request``, ``status``,
and ``size``.

Whatever a line quotes (an upstream error, an HTTP client's request line), it passes through
:class:`Redactor` last: the configured keys and every password written into a URL
(``scheme://user:password@host``) are replaced, so a line cannot carry them whichever library
wrote it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

#: The short id of the session the running code serves; ``None`` outside a session.
SESSION_ID: Final[contextvars.ContextVar[str | None]] = contextvars.ContextVar(
    "unmute_session_id", default=None
)

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: What replaces a secret in a line.
REDACTED: Final = "[redacted]"

#: ``scheme://user:password@``: the password of any URL a line quotes.
_URL_PASSWORD: Final = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")

#: aiohttp's access record fields (its ``extra``) and the names a JSON line gives them.
_ACCESS_FIELDS: Final = {
    "remote_address": "remote",
    "first_request_line": "request",
    "response_status": "status",
    "response_size": "size",
}


class Redactor:
    """Replaces every given secret, and the password of every URL, in a line."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole; each also as
        # JSON would escape it, for lines that quote JSON.
        forms = {form for secret in secrets if secret for form in _forms(secret)}
        self._secrets = tuple(sorted(forms, key=len, reverse=True))

    def __call__(self, line: str) -> str:
        for secret in self._secrets:
            line = line.replace(secret, REDACTED)
        return _URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", line)


def _forms(secret: str) -> tuple[str, ...]:
    return (secret, json.dumps(secret)[1:-1])


class SessionFilter(logging.Filter):
    """Puts the current :data:`SESSION_ID` on every record (``record.session``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.session = SESSION_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """The classic line, then the :class:`Redactor`."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(TEXT_FORMAT)
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, then the :class:`Redactor` (on the encoded line)."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        session = getattr(record, "session", None)
        if session is not None:
            line["session"] = session
        for field, name in _ACCESS_FIELDS.items():
            value = record.__dict__.get(field)
            if value is not None:
                line[name] = _number(value) if name in ("status", "size") else value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return self._redact(json.dumps(line, ensure_ascii=False, default=str))


def _number(value: object) -> object:
    """aiohttp formats access fields as strings; a shipper wants numbers where they are."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def configure_logging(log_format: str, secrets: Iterable[str]) -> None:
    """Send every log line (INFO and up) to stderr as ``log_format``, ``secrets`` removed.

    Replaces whatever handlers the root logger had, so calling it again (a second
    application in one process) does not write each line twice.
    """
    redact = Redactor(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(SessionFilter())
    handler.setFormatter(JsonFormatter(redact) if log_format == "json" else TextFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
