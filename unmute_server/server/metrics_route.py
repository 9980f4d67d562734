"""``/metrics``: this process's registry, or every worker's under gunicorn.

A single ``serve`` process answers from prometheus_client's default registry through
prometheus-async, as always. Several worker processes (gunicorn, see
:mod:`unmute_server.server.gunicorn_config`) each write their metrics to files in the
multiprocess folder; then any worker answers a scrape with all of them, merged by
``MultiProcessCollector``: counters and histograms summed over every worker that ever ran,
gauges as their ``multiprocess_mode`` says (``livesum``: summed over the living workers).

A gauge computed when scraped (live registries, builds in progress) cannot be computed for
another process, so in multiprocess mode each worker writes its own value every
:data:`PUBLISH_INTERVAL_SECONDS` and before it answers a scrape.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Final

from aiohttp import web
from prometheus_async.aio.web import server_stats
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from unmute_server.server import metrics

#: Seconds between two writes of a worker's computed gauges in multiprocess mode.
PUBLISH_INTERVAL_SECONDS: Final = 1.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_metrics_route(app: web.Application, multiprocess_dir: Path | None) -> None:
    """``GET /metrics`` on ``app``, for the whole server when ``multiprocess_dir`` is given."""
    if multiprocess_dir is None:
        app.router.add_get("/metrics", server_stats)
        return
    app.router.add_get("/metrics", _multiprocess_stats(multiprocess_dir))
    app.cleanup_ctx.append(_publish_computed_gauges)


def _multiprocess_stats(folder: Path) -> Handler:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]  # unannotated upstream

    async def stats(request: web.Request) -> web.Response:
        metrics.publish_computed_gauges()
        # Reads one file per worker and metric kind: off the event loop.
        body = await asyncio.to_thread(generate_latest, registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return stats


async def _publish_computed_gauges(app: web.Application) -> AsyncIterator[None]:
    async def publish() -> None:
        while True:
            metrics.publish_computed_gauges()
            await asyncio.sleep(PUBLISH_INTERVAL_SECONDS)

    task = asyncio.create_task(publish())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait((task,))
