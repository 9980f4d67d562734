"""gunicorn settings and hooks for several worker processes: ``--config python:`` this module.

::

    PROMETHEUS_MULTIPROC_DIR=/run/unmute-metrics gunicorn 'unmute_server.app:make_app' \\
        --config python:unmute_server.server.gunicorn_config \\
        --worker-class aiohttp.GunicornWebWorker --workers 4 --bind 127.0.0.1:8000

``/metrics`` answers for the whole server from any worker through prometheus_client's
multiprocess mode: every worker writes its metrics to files in ``PROMETHEUS_MULTIPROC_DIR``
and a scrape reads them all. The hooks keep that folder true: :func:`on_starting` empties it
(files of an earlier run would be counted again) or, when the variable is unset, makes a
private one that the workers inherit; :func:`child_exit` marks a worker that ended as dead,
so its open sessions leave the sum at once.

:func:`when_ready` turns gunicorn's own HUP into a SIGHUP for every worker, each of which
then re-reads the default pack (see :mod:`unmute_server.server.default_pack`): new sessions
get the new pack and open ones keep theirs. gunicorn's default HUP would replace the workers,
closing every open session; to load new code, use USR2 (a new master) as gunicorn documents.

Nothing here imports prometheus_client at module level: it picks its storage when first
imported, and the master must not pick before ``PROMETHEUS_MULTIPROC_DIR`` is set, since the
workers it forks inherit its modules.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

#: The variable prometheus_client reads; set before any worker starts.
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

worker_class = "aiohttp.GunicornWebWorker"

#: The folder :func:`on_starting` made, if it made one (removed by :func:`on_exit`).
_private_dirs: list[str] = []


def on_starting(server: Any) -> None:
    """Empty the multiprocess folder, or make a private one when none is configured."""
    configured = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if not configured:
        private = tempfile.mkdtemp(prefix="unmute-metrics-")
        _private_dirs.append(private)
        os.environ[MULTIPROC_DIR_VARIABLE] = private
        server.log.info("metrics of every worker go to %s", private)
        return
    folder = Path(configured)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def when_ready(server: Any) -> None:
    """gunicorn's HUP re-reads the default pack in every worker instead of replacing them."""

    def forward_hup() -> None:
        server.log.info("HUP: every worker re-reads the default pack")
        for pid in list(server.WORKERS):
            # One that ended meanwhile is replaced by one that loads the pack as it is now.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    # The arbiter looks its signal handlers up by name on each signal.
    server.handle_hup = forward_hup


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: its live gauges (open sessions...) stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]  # unannotated upstream


def on_exit(server: Any) -> None:
    for private in _private_dirs:
        shutil.rmtree(private, ignore_errors=True)
