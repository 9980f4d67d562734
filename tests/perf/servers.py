"""Server subprocesses for the load benchmarks: start, find the port, sample RSS, stop.

Both the real server (``unmute-server serve --port 0``) and the bare baseline print one line
``... listening on http://HOST:PORT`` once bound; :class:`ServerProcess` waits for it, so a
benchmark never guesses a port or sleeps for a start-up. Only loopback is ever used.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from types import TracebackType

import psutil  # type: ignore[import-untyped]  # no stubs in the test extras
from prometheus_client.parser import text_string_to_metric_families

#: ``serve`` and the bare server say "listening on", gunicorn says "Listening at:".
LISTENING = re.compile(r"[Ll]istening (?:on|at:) http://(?P<host>[^\s]+):(?P<port>\d+)")
START_TIMEOUT = 60.0
BARE_SERVER = Path(__file__).with_name("bare_server.py")


class ServerError(RuntimeError):
    """A server subprocess did not start or misbehaved; the message has its output."""


class ServerProcess:
    """One server subprocess on loopback; use as a context manager."""

    def __init__(
        self,
        argv: list[str],
        label: str,
        *,
        has_metrics: bool,
        env: dict[str, str] | None = None,
        with_children: bool = False,
    ) -> None:
        self.argv = argv
        #: Whether the server's work is done by child processes (gunicorn's workers), whose
        #: CPU time then counts as the server's.
        self.with_children = with_children
        self.label = label
        #: Whether GET /metrics exists (the bare baseline has no metrics).
        self.has_metrics = has_metrics
        # Closed in stop(): the file outlives this method, so no with-block.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        # Only the settings the benchmark gives: none from the shell it was started in.
        environment = {k: v for k, v in os.environ.items() if not k.startswith("UNMUTE_")}
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**environment, **(env or {})},
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.host, self.port = self._wait_listening()
        self._ps = psutil.Process(self.process.pid)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _wait_listening(self) -> tuple[str, int]:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise ServerError(f"{self.label} did not start within {START_TIMEOUT} s") from None
            if line is None:
                self.stop()
                raise ServerError(f"{self.label} exited before listening:\n{self.stderr_text()}")
            found = LISTENING.search(line)
            if found:
                return found["host"], int(found["port"])

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1/realtime"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def rss(self) -> int:
        """Resident set size of the server process, bytes."""
        return int(self._ps.memory_info().rss)

    def cpu_seconds(self) -> float:
        processes = [self._ps]
        if self.with_children:
            processes += self._ps.children(recursive=True)
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def metrics_text(self) -> str:
        # http:// on loopback, built from the port the server printed.
        url = f"{self.http_url}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return str(response.read().decode("utf-8"))

    def stderr_text(self, limit: int = 4000) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-limit:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def unmute_server(
    packs_root: Path,
    default_pack: str,
    *,
    compression: bool,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    argv = [
        sys.executable,
        "-m",
        "unmute_server",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--packs-root",
        str(packs_root),
        "--default-pack",
        default_pack,
        "--max-sessions",
        "20000",
        "--ws-compression" if compression else "--no-ws-compression",
        *(extra or []),
    ]
    if not any(flag in argv for flag in ("--llm", "--llm-url")):
        argv += ["--llm", "off"]  # a figure that asks for no answer starts no model
    return ServerProcess(argv, "unmute-server serve", has_metrics=True, env=env)


def gunicorn_server(
    packs_root: Path, default_pack: str, *, workers: int, env: dict[str, str]
) -> ServerProcess:
    """The server as docs/operations.md runs it on several cores: gunicorn's ``workers``
    processes on one port, settings from ``UNMUTE_*`` variables (``env``), metrics summed
    over the workers in a private multiprocess folder (the package's gunicorn hooks)."""
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "unmute_server.app:make_app",
        *("--config", "python:unmute_server.server.gunicorn_config"),
        *("--workers", str(workers), "--bind", "127.0.0.1:0"),
        # gunicorn logs the bound port here; the line ServerProcess waits for is on stdout.
        *("--error-logfile", "/dev/stdout"),
    ]
    settings = {
        "UNMUTE_PACKS_ROOT": str(packs_root),
        "UNMUTE_DEFAULT_PACK": default_pack,
        "UNMUTE_MAX_SESSIONS": "20000",
        **env,
    }
    return ServerProcess(argv, "gunicorn", has_metrics=True, env=settings, with_children=True)


def bare_server(reply_file: Path, *, compression: bool) -> ServerProcess:
    argv = [
        sys.executable,
        str(BARE_SERVER),
        "--port",
        "0",
        "--reply-file",
        str(reply_file),
        "--compress" if compression else "--no-compress",
    ]
    return ServerProcess(argv, "bare aiohttp server", has_metrics=False)


# --------------------------------------------------------------------------- loop lag

LOOP_LAG = "unmute_event_loop_lag_seconds"


def histogram_buckets(metrics_text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts ``{upper bound: count}`` of histogram ``name``."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                buckets[float(sample.labels["le"])] = float(sample.value)
    if not buckets:
        raise ServerError(f"/metrics has no histogram {name}")
    return buckets


def histogram_sum_count(
    metrics_text: str, name: str, labels: dict[str, str] | None = None
) -> tuple[float, float]:
    """``(sum, count)`` of histogram ``name`` (the series with ``labels``): between two
    scrapes with one observation in between, the difference of sums is that observation."""
    wanted = labels or {}
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name in (f"{name}_sum", f"{name}_count") and all(
                sample.labels.get(key) == value for key, value in wanted.items()
            ):
                found[sample.name.rsplit("_", 1)[1]] = float(sample.value)
    if set(found) != {"sum", "count"}:
        raise ServerError(f"/metrics has no histogram {name} {wanted}")
    return found["sum"], found["count"]


def histogram_quantile(
    before: dict[float, float], after: dict[float, float], q: float
) -> tuple[float, int]:
    """The ``q`` quantile of observations between two scrapes, and how many there were.

    Interpolated linearly inside the bucket, as Prometheus's ``histogram_quantile`` does;
    a quantile in the ``+Inf`` bucket is reported as the highest finite bound.
    """
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return 0.0, 0
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if bound == float("inf"):
                return lower_bound, int(total)
            inside = count - lower_count
            fraction = (rank - lower_count) / inside if inside else 1.0
            return lower_bound + (bound - lower_bound) * fraction, int(total)
        lower_bound, lower_count = bound, count
    return bounds[-2], int(total)
