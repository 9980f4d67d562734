"""``unmute-server loadtest``: many real WebSocket sessions against one server, and a report.

Only loopback addresses are accepted unless ``--allow-remote`` is given: a load generator
aimed at someone else's server is an attack, and the machines this project is developed on
forbid traffic to anything but loopback. Exit codes: 0 every session connected and every
event got a non-error answer; 1 the run completed with failures (they are in the report);
2 usage error or a target that is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unmute_server.loadtest.runner import LoadConfig

#: The values of :class:`~unmute_server.loadtest.runner.Scenario`, spelled out so that
#: building the command line does not import the load generator (and aiohttp) for every
#: command; a test keeps the two equal.
SCENARIOS = ("mix", "list", "burst", "idle", "cycles")

EPILOG = """\
scenarios:
  mix     connect, list, update (a voice from the list), RELOADS x (reload, list, update)
          between PACKS, EVENTS more events (70% list, 30% update), disconnect
  list    all sessions connect, then send lists (EVENTS each, or for DURATION), paced by RATE
  burst   all sessions connect, then ROUNDS times every session sends one list at once
  idle    all sessions connect and list once, then stay connected for HOLD seconds
          (or until standard input closes, with --hold-stdin)
  cycles  CYCLES times connect, reload (alternating PACKS), disconnect; SESSIONS in flight

Only loopback targets (127.0.0.0/8, ::1, localhost) are accepted unless --allow-remote is
given; this project's development machines forbid load (or any traffic) to other hosts.

example:
  unmute-server loadtest --url ws://127.0.0.1:8000/v1/realtime --sessions 1000 \\
      --reloads 10 --packs default,classics
"""


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "loadtest",
        help="open many WebSocket sessions against a server (loopback only) and report",
        description=(
            "Open many concurrent WebSocket sessions against one unmute-server, drive a "
            "realistic event mix, and report connection success, latency p50/p95/p99 per "
            "event type, errors by code and throughput."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", required=True, help="ws://HOST:PORT/v1/realtime (loopback only)")
    parser.add_argument("--sessions", type=int, default=10, help="concurrent sessions (10)")
    parser.add_argument("--scenario", choices=SCENARIOS, default="mix", help="(mix)")
    parser.add_argument("--reloads", type=int, default=0, help="reload rounds per session (0)")
    parser.add_argument(
        "--packs", default="", help="comma-separated pack names to reload between (a,b)"
    )
    parser.add_argument("--events", type=int, default=5, help="steady events per session (5)")
    parser.add_argument("--duration", type=float, help="run the steady events for this long (s)")
    parser.add_argument("--rate", type=float, help="total events per second, all sessions")
    parser.add_argument(
        "--compression",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="offer permessage-deflate as browsers do (default: offer)",
    )
    parser.add_argument(
        "--ramp-batch", type=int, default=100, help="connections opened at once (100)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="burst rounds (3)")
    parser.add_argument("--cycles", type=int, default=1000, help="cycles to run (1000)")
    parser.add_argument("--hold", type=float, default=0.0, help="idle: seconds to hold (0)")
    parser.add_argument(
        "--hold-stdin",
        action="store_true",
        help="idle: print 'holding N sessions' and hold until standard input closes",
    )
    parser.add_argument("--answer-timeout", type=float, default=30.0, help="seconds (30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the event mix (0)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress output on standard error"
    )
    parser.add_argument(
        "--phase-lines",
        action="store_true",
        help="print 'phase NAME' on standard output as each phase starts (for scripts)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback target (only where load-testing it is allowed)",
    )
    parser.set_defaults(run=run)


def config_from_args(args: argparse.Namespace) -> LoadConfig:
    """The run's config; raises ``ValueError`` (incl. :class:`TargetError`) when invalid."""
    from unmute_server.loadtest.runner import LoadConfig, Scenario

    packs = tuple(name.strip() for name in args.packs.split(",") if name.strip())
    return LoadConfig(
        url=args.url,
        sessions=args.sessions,
        scenario=Scenario(args.scenario),
        reloads=args.reloads,
        packs=packs,
        events=args.events,
        duration=args.duration,
        rate=args.rate,
        compression=args.compression,
        ramp_batch=args.ramp_batch,
        rounds=args.rounds,
        cycles=args.cycles,
        hold=args.hold,
        answer_timeout=args.answer_timeout,
        seed=args.seed,
        allow_remote=args.allow_remote,
    )


def run(args: argparse.Namespace) -> int:
    # Imported when run, so the other commands start without the load generator.
    from unmute_server.loadtest.progress import Progress
    from unmute_server.loadtest.report import format_report
    from unmute_server.loadtest.rlimit import raise_open_file_limit
    from unmute_server.loadtest.runner import run_load
    from unmute_server.loadtest.target import TargetError

    try:
        config = config_from_args(args)
    except TargetError as error:
        print(f"unmute-server loadtest: refused: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"unmute-server loadtest: {error}", file=sys.stderr)
        return 2
    limit = raise_open_file_limit()
    if limit is not None and not args.no_progress:
        print(f"loadtest: {limit.describe()}", file=sys.stderr)
    if limit is not None and 0 <= limit.after < config.sessions + 64:
        print(
            f"loadtest: warning: {config.sessions} sessions need more open files than the "
            f"limit of {limit.after}; connections will fail",
            file=sys.stderr,
        )
    progress = None if args.no_progress else Progress(sys.stderr)
    report = asyncio.run(
        run_load(
            config,
            progress=progress,
            on_hold=_announce_hold if args.hold_stdin else None,
            release=_stdin_closed if args.hold_stdin else None,
            on_phase=_announce_phase if args.phase_lines else None,
        )
    )
    if args.json:
        print(report.to_json_text(), flush=True)
    else:
        print(format_report(report), flush=True)
    return 0 if report.clean else 1


def _announce_phase(name: str) -> None:
    print(f"phase {name}", flush=True)


def _announce_hold(count: int) -> None:
    print(f"holding {count} sessions", flush=True)


async def _stdin_closed() -> None:
    """Return once standard input reaches end of file (a daemon thread reads it)."""
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[None] = loop.create_future()

    def settle() -> None:
        if not closed.done():
            closed.set_result(None)

    def read() -> None:
        try:
            while sys.stdin.buffer.read(65536):
                pass
        finally:
            loop.call_soon_threadsafe(settle)

    threading.Thread(target=read, name="stdin-watch", daemon=True).start()
    await closed
