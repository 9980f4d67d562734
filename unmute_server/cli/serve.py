"""``unmute-server serve``: run the session server until SIGINT or SIGTERM.

Settings come from ``UNMUTE_*`` environment variables, with flags winning (this is the one
place the server reads ``os.environ``). Bad values and a default pack without a valid
character are reported before anything binds, with exit code 2. Once listening, one line
``unmute-server listening on http://HOST:PORT`` names the port actually bound, so
``--port 0`` is usable by scripts and benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

from unmute_server.server.settings import LLM_OPTIONS, OPTIONS, Settings, SettingsError
from unmute_server.voice.settings import VOICE_OPTIONS

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve voice sessions over WebSocket",
        description=(
            "Serve /v1/realtime (WebSocket), /v1/health, /v1/voices and /metrics. "
            "Every option can also be set by the environment variable shown; flags win."
        ),
    )
    for option in OPTIONS:
        help_text = f"{option.help} (env {option.env}; default: {option.default})"
        if option.field == "ws_compression":
            parser.add_argument(
                option.flag,
                dest=option.field,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(
                option.flag,
                dest=option.field,
                default=None,
                metavar=option.field.upper(),
                help=help_text,
            )
    for llm_option in LLM_OPTIONS:
        parser.add_argument(
            llm_option.flag,
            dest=_flag_dest(llm_option.flag),
            default=None,
            metavar=llm_option.flag.removeprefix("--").upper().replace("-", "_"),
            help=f"{llm_option.help} (env {llm_option.env})",
        )
    for voice_option in VOICE_OPTIONS:
        if voice_option.flag is None:
            continue  # a secret: only its variable may carry it
        parser.add_argument(
            voice_option.flag,
            dest=_flag_dest(voice_option.flag),
            default=None,
            metavar=voice_option.flag.removeprefix("--").upper().replace("-", "_"),
            help=f"{voice_option.help} (env {voice_option.env})",
        )
    parser.set_defaults(run=run)


def _flag_dest(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


def build_settings(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    """Settings from ``env``, then every flag given in ``args`` on top.

    Flags are parsed by the same functions as the variables, so ``--port x`` and
    ``UNMUTE_PORT=x`` fail with the same message; so do ``--llm-url`` and
    ``UNMUTE_LLM_URL``. Raises :class:`SettingsError`.
    """
    overrides: dict[str, Any] = {}
    for option in OPTIONS:
        raw = getattr(args, option.field, None)
        if raw is None or isinstance(raw, bool):
            overrides[option.field] = raw
            continue
        try:
            overrides[option.field] = option.parse(raw)
        except ValueError as error:
            raise SettingsError(f"{option.flag} {raw!r}: {error}") from None
    llm_flags = {
        option.flag: getattr(args, _flag_dest(option.flag), None) for option in LLM_OPTIONS
    }
    voice_flags = {
        option.flag: getattr(args, _flag_dest(option.flag), None)
        for option in VOICE_OPTIONS
        if option.flag is not None
    }
    return Settings.from_environment(env, llm_flags=llm_flags, voice_flags=voice_flags, **overrides)


def run(args: argparse.Namespace) -> int:
    try:
        settings = build_settings(args, os.environ)
    except SettingsError as error:
        print(f"unmute-server serve: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The server is imported when it is run: every other command (lint in a pre-commit
    # hook above all) starts without paying for aiohttp and the application.
    from unmute_server.server.app import StartupError

    try:
        asyncio.run(serve(settings))
    except StartupError as error:
        print(f"unmute-server serve: {error.message}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"unmute-server serve: {listen_failure(settings, error)}", file=sys.stderr)
        return 2
    return 0


def listen_failure(settings: Settings, error: OSError) -> str:
    """Why the socket could not be bound, and for a port in use, the ways out.

    asyncio words a taken port as ``error while attempting to bind on address (...)``; an
    author starting a second server needs to hear which port and how to pick another.
    """
    where = f"cannot listen on {settings.host}:{settings.port}"
    if error.errno == errno.EADDRINUSE:
        other = settings.port + 1 if settings.port < 65535 else settings.port - 1
        return (
            f"{where}: address already in use (another program has this port); choose "
            f"another with --port {other} (--port 0 picks a free one), "
            f"UNMUTE_PORT={other} or make run PORT={other}"
        )
    return f"{where}: {error.strerror or error}"


async def serve(settings: Settings) -> None:
    """Start, print the listening line, and run until SIGINT/SIGTERM; then shut down cleanly.

    Start-up (loading the default pack) completes before the socket is bound, so a bad
    default pack never accepts a connection.
    """
    from aiohttp import web

    from unmute_server.server.app import app_runner

    runner = app_runner(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    try:
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"unmute-server listening on http://{shown}:{port}", flush=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
