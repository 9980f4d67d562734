"""``create_app(settings)``: the aiohttp application, its routes and its resources.

Nothing happens at import time. Resources are opened in ``cleanup_ctx`` when the application
starts and closed when it stops: the LLM backend (one connection pool for the process, closed
after every session has been closed), the registry cache and the default pack (loaded and checked
before the server accepts a connection: a default pack without a valid character stops
start-up with :class:`StartupError`; the packs root is opened once here and held open, so
every pack is opened relative to it; packs are built in child processes, killed on shutdown
before the sessions are closed), what prompts are rendered with (the operator's time
zone, language and news file, which must be readable at start-up), and the event-loop lag
monitor. On shutdown every
open session is closed with 1001 (going away) before aiohttp waits for handlers to finish.

For several worker processes under gunicorn, point it at :func:`make_app`::

    gunicorn 'unmute_server.server.app:make_app' --worker-class aiohttp.GunicornWebWorker

Each worker has its own cache and sessions; a session lives on one worker for its whole
life (one WebSocket connection), so nothing needs sharing between them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web
from prometheus_async.aio.web import server_stats

from unmute_server.characters.build_worker import BuildBudget, IsolatedBuilder
from unmute_server.characters.folders import OpenFolder
from unmute_server.characters.pack import PackChangedError, PackNameError, resolve_pack
from unmute_server.characters.registry import RegistryCache
from unmute_server.conversation.news import NewsFeed, NewsFileError
from unmute_server.conversation.prompt_source import PromptSource
from unmute_server.server import metrics
from unmute_server.server.cors import cors_middleware
from unmute_server.server.http_routes import health, voices
from unmute_server.server.loop_lag import monitor_loop_lag
from unmute_server.server.pack_log import log_pack_diagnostics
from unmute_server.server.settings import Settings
from unmute_server.server.state import (
    LLM,
    LLM_BACKEND,
    PACKS,
    PROMPT_SOURCE,
    SESSIONS,
    SETTINGS,
    VOICE,
    Packs,
    SessionHub,
)
from unmute_server.server.voice_channel import VoiceEngines
from unmute_server.server.websocket import realtime

logger = logging.getLogger(__name__)

#: How many of the default pack's diagnostics a start-up error quotes.
MAX_QUOTED_DIAGNOSTICS = 20


class StartupError(Exception):
    """The server cannot start as configured; ``message`` tells the operator why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def create_app(settings: Settings) -> web.Application:
    """The application for ``settings``; resources open when it starts, not here."""
    app = web.Application(middlewares=[cors_middleware(settings.cors_origins)])
    app[SETTINGS] = settings
    app[SESSIONS] = SessionHub()
    # Cleanups run in reverse: the packs' cleanup closes the sessions before the LLM goes.
    app.cleanup_ctx.append(_llm)
    app.cleanup_ctx.append(_voice)
    app.cleanup_ctx.append(_prompt_source)
    app.cleanup_ctx.append(_packs)
    app.cleanup_ctx.append(_loop_lag)
    app.on_shutdown.append(_stop_builds)
    app.on_shutdown.append(_close_sessions)
    app.router.add_get("/v1/realtime", realtime)
    app.router.add_get("/v1/health", health)
    app.router.add_get("/v1/voices", voices)
    app.router.add_get("/metrics", server_stats)
    return app


async def make_app() -> web.Application:
    """The application configured from ``UNMUTE_*`` environment variables, for gunicorn.

    This and the ``serve`` command are the only readers of the environment.
    """
    return create_app(Settings.from_environment(os.environ))


async def _llm(app: web.Application) -> AsyncIterator[None]:
    llm = app[SETTINGS].llm
    if llm is None:
        app[LLM_BACKEND] = LLM(None)
        yield
        return
    # Imported here: only a serving process with an LLM needs the openai package.
    from unmute_server.llm import OpenAICompatibleBackend

    backend = OpenAICompatibleBackend(llm)
    logger.info("LLM: model %r", llm.model)
    app[LLM_BACKEND] = LLM(backend)
    try:
        yield
    finally:
        await backend.aclose()


async def _voice(app: web.Application) -> AsyncIterator[None]:
    # Imported here: the engines' modules (numpy, sphn) are for a serving process only.
    from unmute_server.voice.engines import make_stt, make_tts

    voice = app[SETTINGS].voice
    engines = VoiceEngines(make_stt(voice.stt), make_tts(voice.tts))
    logger.info("voice: speech-to-text %s, text-to-speech %s", engines.stt.name, engines.tts.name)
    app[VOICE] = engines
    try:
        yield
    finally:
        try:
            await engines.stt.aclose()
        finally:
            await engines.tts.aclose()


async def _prompt_source(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    news = None
    if settings.news_file is not None:
        try:
            news = NewsFeed(settings.news_file)
        except NewsFileError as error:
            raise StartupError(f"news file: {error}") from None
        logger.info("news: %d headlines from %s", len(news.headlines()), settings.news_file)
    app[PROMPT_SOURCE] = PromptSource(settings.zone(), settings.language, news)
    yield


async def _packs(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    path = settings.packs_root
    try:
        root = OpenFolder.open(path)
    except OSError:
        raise StartupError(f"packs root {str(path)!r} is not a folder") from None
    # Held open until the application stops: packs are opened relative to it, never by path.
    with root:
        name = settings.default_pack
        try:
            folder = resolve_pack(root, name)
        except PackNameError as error:
            raise StartupError(
                f"default pack: {error.message} (packs root {str(path)!r})"
            ) from None
        builder = IsolatedBuilder(
            BuildBudget(
                cpu_seconds=settings.pack_build_cpu_seconds,
                memory_bytes=settings.pack_build_memory_mib * 1024 * 1024,
                max_concurrent=settings.max_concurrent_builds,
            ),
            on_finished=metrics.pack_build_finished,
        )
        metrics.builder_opened(builder)
        try:
            with folder:
                await asyncio.to_thread(builder.prepare)
                cache = RegistryCache(builder=builder)
                default = await cache.load(folder, name)
        except PackChangedError:
            _close_builder(builder)
            raise StartupError(
                f"default pack {name!r} in {str(path)!r} kept changing while it was read"
            ) from None
        except BaseException:
            _close_builder(builder)
            raise
        cache_metrics = metrics.CacheMetrics(cache)
        cache_metrics.update()
        metrics.diagnostics_reported(default.diagnostics)
        if not default:
            cache_metrics.close()
            _close_builder(builder)
            quoted = "\n".join(f"  {d}" for d in default.diagnostics[:MAX_QUOTED_DIAGNOSTICS])
            raise StartupError(
                f"default pack {name!r} in {str(path)!r} has no valid characters:\n{quoted}"
            )
        log_pack_diagnostics(logger, f"default pack {name!r}", default.diagnostics)
        app[PACKS] = Packs(root, name, cache, default, cache_metrics)
        try:
            yield
        finally:
            # on_shutdown closed the sessions; this catches an application cleaned up without it.
            _close_builder(builder)
            await _close_sessions(app)
            cache_metrics.close()


def _close_builder(builder: IsolatedBuilder) -> None:
    builder.stop()
    metrics.builder_closed(builder)


async def _stop_builds(app: web.Application) -> None:
    """Kill every running pack build first, so no reload keeps a session (or shutdown) waiting."""
    packs = app.get(PACKS)  # absent when start-up failed
    if packs is not None and packs.cache.builder is not None:
        packs.cache.builder.stop()


async def _loop_lag(app: web.Application) -> AsyncIterator[None]:
    monitor = asyncio.create_task(monitor_loop_lag(metrics.EVENT_LOOP_LAG.observe))
    try:
        yield
    finally:
        monitor.cancel()
        await asyncio.wait((monitor,))


async def _close_sessions(app: web.Application) -> None:
    await app[SESSIONS].close_all(
        WSCloseCode.GOING_AWAY, b"server shutdown", app[SETTINGS].shutdown_timeout
    )


def app_runner(settings: Settings) -> web.AppRunner:
    """The runner ``serve`` starts the application for ``settings`` with.

    aiohttp has no timeout of its own for reading a request's headers, but its keep-alive
    timer starts when a connection opens and closes it if no complete request has arrived by
    then (and again after each answer on a kept-alive connection). ``header_timeout`` sets
    it, so a client that trickles a partial request line holds its socket that long at most.
    An upgraded WebSocket is not affected: the timer only closes a connection waiting for a
    request.
    """
    return web.AppRunner(
        create_app(settings),
        handle_signals=False,
        shutdown_timeout=settings.shutdown_timeout,
        keepalive_timeout=settings.header_timeout,
    )
