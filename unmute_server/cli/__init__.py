"""``unmute-server``: one entry point, one module per subcommand.

Each subcommand module exposes ``add_parser(subparsers)``, which registers its parser and sets
``run`` (a function from the parsed arguments to an exit code) as the parser's default.
Exit codes follow DESIGN 7: 0 clean, 1 problems found, 2 usage or I/O error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from unmute_server import __version__
from unmute_server.cli import (
    convert,
    lint,
    loadtest,
    new,
    say,
    schema,
    serve,
    show,
    transcribe,
)

Runner = Callable[[argparse.Namespace], int]

_COMMANDS = (serve, new, lint, schema, convert, show, say, transcribe, loadtest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unmute-server",
        description="Session server for real-time voice-chat characters.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Runner = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error of ours.
        sys.stderr.close()
        return 0
