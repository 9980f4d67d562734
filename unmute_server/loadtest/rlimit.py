"""Raise this process's open-file soft limit so thousands of sockets fit.

Every WebSocket is a file descriptor. Many systems start processes with a soft limit of
1,024 open files but allow raising it to the hard limit (20,000 on the benchmark machine),
which a process may do for itself without privileges. The load generator and the
benchmark do it at start and report what they did.
"""

from __future__ import annotations

from dataclasses import dataclass

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class OpenFileLimit:
    """The soft limit before and after, and the hard limit (``-1`` means unlimited)."""

    before: int
    after: int
    hard: int

    def describe(self) -> str:
        hard = "unlimited" if self.hard < 0 else str(self.hard)
        if self.after == self.before:
            return f"open-file soft limit {self.after} (hard {hard}), unchanged"
        return f"open-file soft limit raised from {self.before} to {self.after} (hard {hard})"


def raise_open_file_limit() -> OpenFileLimit | None:
    """Set the soft limit on open files to the hard limit; ``None`` where unsupported."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return OpenFileLimit(soft, soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return OpenFileLimit(soft, soft, hard)
    return OpenFileLimit(soft, target, hard)
