"""``create_app(settings)``: the aiohttp application, its routes and its resources.

Nothing happens at import time. Resources are opened in ``cleanup_ctx`` when the application
starts and closed when it stops: the LLM backend (one connection pool for the process, closed
after every session has been closed, and the embedded model's process, started once per process
when it is the chosen LLM), the registry cache and the default pack (loaded and checked
before the server accepts a connection: a default pack without a valid character stops
start-up with :class:`StartupError`; the packs root is opened once here and held open, so
every pack is opened relative to it; packs are built in child processes, killed on shutdown
before the sessions are closed), what prompts are rendered with (the operator's time
zone, language and news file, which must be readable at start-up), and the event-loop lag
monitor. On shutdown every
open session is closed with 1001 (going away) before aiohttp waits for handlers to finish.

For several worker processes under gunicorn, point it at :func:`make_app` (also importable
as ``unmute_server.app:make_app``) with the package's configuration::

    gunicorn 'unmute_server.app:make_app' --config python:unmute_server.server.gunicorn_config \
        --worker-class aiohttp.GunicornWebWorker --workers 4

Each worker has its own cache and sessions; a session lives on one worker for its whole
life (one WebSocket connection), so nothing needs sharing between them but the metrics
(see :mod:`unmute_server.server.metrics_route`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import WSCloseCode, web

from unmute_server.characters.build_worker import BuildBudget, IsolatedBuilder
from unmute_server.characters.folders import OpenFolder
from unmute_server.characters.pack import PackChangedError, PackNameError, resolve_pack
from unmute_server.characters.registry import RegistryCache
from unmute_server.conversation.context_window import ContextWindow
from unmute_server.conversation.news import NewsFeed, NewsFileError
from unmute_server.conversation.prompt_source import PromptSource
from unmute_server.llm import ChatBackend
from unmute_server.llm.settings import EmbeddedLLMSettings, answer_room
from unmute_server.llm.slots import SlotLimitedBackend
from unmute_server.server import metrics
from unmute_server.server.cors import cors_middleware
from unmute_server.server.default_pack import DefaultPackRefresher, quoted_diagnostics
from unmute_server.server.http_routes import health, voices
from unmute_server.server.logs import configure_logging
from unmute_server.server.loop_lag import monitor_loop_lag
from unmute_server.server.metrics_route import add_metrics_route
from unmute_server.server.pack_log import log_pack_diagnostics
from unmute_server.server.pack_routes import character_prompt, list_packs, pack_diagnostics
from unmute_server.server.page import add_page_routes
from unmute_server.server.settings import Settings
from unmute_server.server.state import (
    DEFAULT_PACK_REFRESHER,
    LLM,
    LLM_BACKEND,
    NO_LLM,
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


class StartupError(Exception):
    """The server cannot start as configured; ``message`` tells the operator why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def create_app(settings: Settings, *, multiprocess_metrics: Path | None = None) -> web.Application:
    """The application for ``settings``; resources open when it starts, not here.

    ``multiprocess_metrics`` is prometheus_client's multiprocess folder when this is one of
    several worker processes: ``/metrics`` then answers for all of them.
    """
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
    app.router.add_get("/v1/packs", list_packs)
    app.router.add_get("/v1/packs/{pack}", pack_diagnostics)
    app.router.add_get("/v1/packs/{pack}/characters/{character}/prompt", character_prompt)
    add_metrics_route(app, multiprocess_metrics)
    add_page_routes(app)
    return app


async def make_app() -> web.Application:
    """The application configured from ``UNMUTE_*`` environment variables, for gunicorn.

    This and the ``serve`` command are the only readers of the environment. With
    ``PROMETHEUS_MULTIPROC_DIR`` set (the package's gunicorn configuration sets it),
    ``/metrics`` answers for every worker; SIGHUP re-reads the default pack.
    """
    settings = Settings.from_environment(os.environ)
    configure_logging(settings.log_format, settings.secrets())
    multiprocess = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    app = create_app(settings, multiprocess_metrics=Path(multiprocess) if multiprocess else None)
    app.cleanup_ctx.append(_refresh_default_pack_on_sighup)
    return app


async def _refresh_default_pack_on_sighup(app: web.Application) -> AsyncIterator[None]:
    """SIGHUP re-reads the default pack, in this process (a gunicorn worker) as in ``serve``."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, app[DEFAULT_PACK_REFRESHER].request)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


async def _llm(app: web.Application) -> AsyncIterator[None]:
    """The process's LLM: the embedded model is started here, once, off the event loop.

    A server whose embedded model cannot start still serves characters: the reason goes to
    the log, to ``/v1/health`` and to every refused ``response.create``.
    """
    chosen = app[SETTINGS].llm
    if chosen is None:
        logger.info("LLM: off")
        app[LLM_BACKEND] = NO_LLM
        yield
        return
    # Imported here: only a serving process with an LLM needs the LLM client.
    from unmute_server.llm import OpenAICompatibleBackend
    from unmute_server.llm.embedded import EmbeddedLLMError
    from unmute_server.llm.embedded_process import EmbeddedLLMProcess

    embedded: EmbeddedLLMProcess | None = None
    if isinstance(chosen, EmbeddedLLMSettings):
        try:
            embedded = await asyncio.to_thread(EmbeddedLLMProcess.start, chosen)
        except EmbeddedLLMError as error:
            logger.error("LLM: the embedded model is unavailable: %s", error)
            app[LLM_BACKEND] = LLM(None, "embedded", chosen.model_name, str(error))
            yield
            return
        remote = embedded.client_settings()
        logger.info(
            "LLM: embedded, model %r (%d threads, %d slots, at most %d tokens an answer), "
            "process %d",
            remote.model,
            chosen.threads,
            chosen.slots,
            chosen.max_tokens,
            embedded.pid,
        )
    else:
        remote = chosen
        logger.info("LLM: remote, model %r", remote.model)
    backend: ChatBackend = OpenAICompatibleBackend(remote)
    slots = None
    if remote.slots is not None:
        # A slot is waited for at most as long as a first token would be.
        slots = SlotLimitedBackend(backend, remote.slots, wait_timeout=remote.first_token_timeout)
        backend = slots
    window = None
    if remote.context is not None:
        window = ContextWindow(remote.context, answer_room(remote.context, remote.max_tokens))
    app[LLM_BACKEND] = LLM(backend, chosen.kind, remote.model, slots=slots, window=window)
    try:
        yield
    finally:
        try:
            await backend.aclose()
        finally:
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)


async def _voice(app: web.Application) -> AsyncIterator[None]:
    # Imported here: the engines' modules (numpy, sphn) are for a serving process only.
    from unmute_server.voice.engines import make_stt, make_tts

    voice = app[SETTINGS].voice
    niceness = voice.worker_niceness
    engines = VoiceEngines(
        make_stt(voice.stt, worker_niceness=niceness),
        make_tts(voice.tts, worker_niceness=niceness),
    )
    logger.info("voice: speech-to-text %s, text-to-speech %s", engines.stt.name, engines.tts.name)
    app[VOICE] = engines
    # Before the first request: a model loaded in a health probe's two seconds may never finish
    # on a busy machine. The load runs in the engine's worker process, not on the event loop;
    # a failure is the health check's stt_reason, and text sessions still work.
    await engines.stt.warm()
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
            raise StartupError(
                f"default pack {name!r} in {str(path)!r} has no valid characters:\n"
                f"{quoted_diagnostics(default)}"
            )
        log_pack_diagnostics(logger, f"default pack {name!r}", default.diagnostics)
        packs = app[PACKS] = Packs(root, name, cache, default, cache_metrics)
        refresher = app[DEFAULT_PACK_REFRESHER] = DefaultPackRefresher(packs)
        if settings.watch_packs:
            refresher.start_watching()
        try:
            yield
        finally:
            await refresher.aclose()
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
