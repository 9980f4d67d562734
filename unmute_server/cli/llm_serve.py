"""``unmute-server llm-serve``: the embedded LLM as a server of its own.

Every ``serve`` process with the embedded LLM runs one of these as its child. Run by hand, it
is the one embedded model that several workers share (each started with ``--llm-url`` pointing
at it): one model in memory instead of one per worker. It prints one line,
``unmute-server llm-serve listening on http://HOST:PORT/v1 (model NAME)``, once the model is
loaded, and runs until SIGINT or SIGTERM (or, with ``--until-stdin-closes``, until its
standard input closes: how ``serve`` makes sure its child never outlives it).

It ends with ``os._exit``: llama.cpp's server shutdown sometimes never returns, and the
kernel frees the sockets and the memory of an exiting process at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

from unmute_server.llm import LLMSettingsError
from unmute_server.llm.settings import (
    ENV_CONTEXT,
    ENV_MAX_TOKENS,
    ENV_MODEL_FILE,
    ENV_SLOTS,
    ENV_THREADS,
    EmbeddedLLMSettings,
)

#: The flags and the variables they stand for (flags win, as for ``serve``).
FLAGS = {
    "--threads": ENV_THREADS,
    "--slots": ENV_SLOTS,
    "--context": ENV_CONTEXT,
    "--max-tokens": ENV_MAX_TOKENS,
    "--model-file": ENV_MODEL_FILE,
}


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "llm-serve",
        help="serve the embedded LLM over HTTP (OpenAI-compatible), for several workers",
        description=(
            "Load the embedded model and serve OpenAI-compatible chat completions at "
            "http://HOST:PORT/v1 until SIGINT or SIGTERM. Point workers at it with "
            "`serve --llm-url http://HOST:PORT/v1 --llm-model SmolLM2-135M-Instruct`. "
            "Each option can also be set by the environment variable shown; flags win."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8100, help="TCP port; 0 picks a free one (default: 8100)"
    )
    for flag, variable in FLAGS.items():
        parser.add_argument(
            flag,
            dest=_dest(flag),
            default=None,
            metavar=flag.removeprefix("--").upper().replace("-", "_"),
            help=f"(env {variable})",
        )
    parser.add_argument(
        "--until-stdin-closes",
        action="store_true",
        help="also stop when standard input closes (for a parent process)",
    )
    parser.set_defaults(run=run)


def _dest(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


def build_settings(args: argparse.Namespace, env: dict[str, str]) -> EmbeddedLLMSettings:
    """The embedded settings from ``UNMUTE_LLM_*`` variables with the flags on top; raises
    ``LLMSettingsError`` naming the flag or the variable."""
    merged = dict(env)
    given: dict[str, str] = {}
    for flag, variable in FLAGS.items():
        value = getattr(args, _dest(flag))
        if value is not None:
            merged[variable] = value
            given[variable] = flag
    try:
        return EmbeddedLLMSettings.from_environment(merged)
    except LLMSettingsError as error:
        message = str(error)
        for variable, flag in given.items():
            message = message.replace(variable, flag)
        raise LLMSettingsError(message) from None


def run(args: argparse.Namespace) -> int:
    from unmute_server.llm.embedded import EmbeddedLLM, EmbeddedLLMError

    try:
        settings = build_settings(args, dict(os.environ))
        llm = EmbeddedLLM.start(settings, host=args.host, port=args.port)
    except (LLMSettingsError, EmbeddedLLMError) as error:
        print(f"unmute-server llm-serve: {error}", file=sys.stderr, flush=True)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.until_stdin_closes:
        threading.Thread(target=_wait_for_eof, args=(stop,), daemon=True).start()
    print(f"unmute-server llm-serve listening on {llm.url} (model {settings.model_name})")
    sys.stdout.flush()
    while not stop.wait(1.0):
        pass
    sys.stdout.flush()
    os._exit(0)


def _wait_for_eof(stop: threading.Event) -> None:
    while sys.stdin.read(4096):
        pass
    stop.set()
