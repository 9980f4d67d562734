"""``unmute-server show PACK NAME``: print the system prompt a character produces.

The prompt is rendered exactly as a session would render it, from a context built here from
the flags (``--seed``, ``--language``, ``--timezone``, ``--now``, ``--headline``), so an author
can reproduce what a given session saw. Exit 0 printed, 2 for an unknown pack or character
(the message lists the known names and the closest match) or a bad flag value.

The prompt is printed with its line breaks and tabs, and any other control or bidirectional
character (which a TOML escape can put in a text) as an escape, so a character file cannot
drive the terminal it is shown on.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from unmute_server.characters.prompts import PromptContext, render_system_prompt
from unmute_server.cli._lookup import UsageError, find_character
from unmute_server.terminal_text import escape_controls

EXIT_SHOWN = 0
EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "show",
        help="print the system prompt a character produces",
        description=(
            "Load pack PACK from the packs root and print the system prompt of the character "
            "named NAME, rendered for the given seed, language, time zone and time. "
            "Exit 0 printed, 2 unknown pack or character, or a bad option value."
        ),
    )
    parser.add_argument("pack", metavar="PACK", help="a pack folder name under the packs root")
    parser.add_argument("name", metavar="NAME", help="the character's name (its `name` field)")
    parser.add_argument(
        "--packs-root",
        default="character_packs",
        metavar="DIR",
        help="folder holding the packs (default: character_packs)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="the session seed for seeded choices (default: 0)"
    )
    parser.add_argument(
        "--language",
        default="en",
        metavar="CODE",
        help="session language code such as en or en/fr, used when the character sets none",
    )
    parser.add_argument(
        "--timezone",
        default="UTC",
        metavar="ZONE",
        help="IANA time zone name, e.g. Europe/Paris (default: UTC)",
    )
    parser.add_argument(
        "--now",
        metavar="ISO",
        help="the moment to render for, e.g. 2026-11-24T14:05 (default: the current time); "
        "a time without an offset is read in --timezone",
    )
    parser.add_argument(
        "--headline",
        action="append",
        default=[],
        metavar="TEXT",
        help="a news headline for news characters; repeat for more",
    )
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        context = _context(args)
        prompt = show(Path(args.packs_root), args.pack, args.name, context)
    except UsageError as error:
        # Names in the message are quoted already; its own line breaks are meant.
        message = escape_controls(str(error), keep="\n")
        print(f"unmute-server show: {message}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(escape_controls(prompt, keep="\n\t") + "\n")
    return EXIT_SHOWN


def _context(args: argparse.Namespace) -> PromptContext:
    try:
        zone = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise UsageError(
            f"unknown time zone {args.timezone!r}; use an IANA name such as Europe/Paris"
        ) from error
    if args.now is None:
        now = datetime.now(zone)
    else:
        try:
            parsed = datetime.fromisoformat(args.now)
        except ValueError as error:
            raise UsageError(
                f"--now {args.now!r} is not an ISO 8601 time such as 2026-11-24T14:05"
            ) from error
        now = parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed.astimezone(zone)
    try:
        return PromptContext(
            now=now,
            timezone=args.timezone,
            seed=args.seed,
            language=args.language,
            news_headlines=tuple(args.headline),
        )
    except (TypeError, ValueError) as error:
        raise UsageError(str(error).replace("PromptContext.language", "--language")) from error


def show(packs_root: Path, pack: str, name: str, context: PromptContext) -> str:
    """The prompt of character ``name`` in pack ``pack``; ``UsageError`` says what is wrong."""
    return render_system_prompt(find_character(packs_root, pack, name), context)
