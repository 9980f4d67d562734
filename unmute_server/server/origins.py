"""Allowed origins: how the operator writes them and how a request's ``Origin`` is matched.

Pure, and free of aiohttp, so settings (which ``unmute-server lint`` never needs, but the CLI
imports) stay light. Each entry is ``*`` (any origin), an exact origin
(``https://unmute.example.com``, ``http://localhost:3000``), or an origin with ``:*`` for any
port (``http://localhost:*``, which also allows ``http://localhost`` itself).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Loopback origins on any port: a frontend's development server on the same machine.
DEFAULT_CORS_ORIGINS: tuple[str, ...] = (
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
)

_ORIGIN_PATTERN = re.compile(
    r"(?P<base>[a-z][a-z0-9+.\-]*://(?:\[[0-9a-f:.]+\]|[a-z0-9\-._~%]+))"
    r"(?::(?P<port>[0-9]{1,5}|\*))?"
)


def origin_problem(entry: str) -> str | None:
    """Why ``entry`` cannot be an allowed origin, or ``None`` when it can."""
    if entry == "*" or _ORIGIN_PATTERN.fullmatch(entry):
        return None
    return (
        f"{entry!r} is not '*' or an origin such as https://app.example.com, "
        "http://localhost:3000 or http://localhost:* (lower case, no path)"
    )


def parse_origins(raw: str) -> tuple[str, ...]:
    """A comma-separated list of allowed origins; ``ValueError`` naming the first bad one."""
    entries = tuple(entry.strip() for entry in raw.split(",") if entry.strip())
    if not entries:
        raise ValueError("expected at least one origin, or '*'")
    for entry in entries:
        problem = origin_problem(entry)
        if problem is not None:
            raise ValueError(problem)
    return entries


def origin_allowed(origin: str, allowed: Iterable[str]) -> bool:
    """Whether a request's ``Origin`` header matches one of the ``allowed`` entries.

    Browsers send origins in lower case; any other spelling simply matches nothing.
    """
    match = _ORIGIN_PATTERN.fullmatch(origin)
    if match is None or match["port"] == "*":
        return "*" in allowed
    for entry in allowed:
        if entry in ("*", origin):
            return True
        base, _, port = entry.rpartition(":")
        if port == "*" and match["base"] == base:
            return True
    return False
