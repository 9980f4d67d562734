"""The one address a load test may send to, checked before anything is sent.

A load generator pointed at the wrong host is a denial-of-service tool. This one only
accepts a ``ws://`` or ``wss://`` URL whose host is a loopback address (``127.0.0.0/8``,
``::1``) or ``localhost``, unless the operator says ``allow_remote`` explicitly. A host name
other than ``localhost`` is refused without resolving it: looking it up would itself be
traffic to somewhere else.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


class TargetError(ValueError):
    """The URL cannot be load-tested; the message says why and what to do."""


def is_loopback_host(host: str) -> bool:
    """``True`` for a loopback IP literal or a name that always means this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback


def check_target(url: str, *, allow_remote: bool = False) -> str:
    """``url`` unchanged if a load test may send to it; raises :class:`TargetError`."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as error:
        raise TargetError(f"{url!r} is not a valid URL: {error}") from None
    if parts.scheme not in ("ws", "wss"):
        raise TargetError(
            f"{url!r}: the URL must start with ws:// or wss:// "
            "(for example ws://127.0.0.1:8000/v1/realtime)"
        )
    host = parts.hostname
    if not host:
        raise TargetError(f"{url!r}: the URL has no host")
    if not allow_remote and not is_loopback_host(host):
        raise TargetError(
            f"{url!r}: {host!r} is not a loopback address; the load generator only targets "
            "127.0.0.1, ::1 or localhost unless --allow-remote is given (and only where "
            "load-testing that host is allowed)"
        )
    return url
