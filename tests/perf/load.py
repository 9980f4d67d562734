"""Load benchmarks: the real server and the bare baseline as subprocesses, driven by
``unmute-server loadtest`` in a third process (its own open-file limit, its own core).

Each figure starts its servers itself, so one figure's leftovers (memory, sockets in
TIME_WAIT) never land in another's numbers, and runs of a memory figure each use a fresh
server process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.perf.figures import Figure, Target
from tests.perf.servers import (
    LOOP_LAG,
    ServerProcess,
    bare_server,
    histogram_buckets,
    histogram_quantile,
    unmute_server,
)
from tests.perf.synthetic import write_pack
from unmute_server.characters.pack import load_pack
from unmute_server.protocol.events import CharactersListed, CharacterSummary, encode

KIB = 1024
MIB = 1024 * 1024
LOADTEST_TIMEOUT = 900.0
DEFAULT_PACK = "bench"
OTHER_PACK = "bench-b"


class LoadError(RuntimeError):
    """The load generator could not run (as opposed to running and finding errors)."""


@dataclass(frozen=True, slots=True)
class LoadSizes:
    idle_sessions: int
    memory_runs: int
    burst_sessions: int
    burst_rounds: int
    paced_sessions: int
    paced_seconds: float
    paced_runs: int
    reload_sessions: int
    reload_runs: int
    cycles_first: int
    cycles_total: int
    cycle_concurrency: int


FULL = LoadSizes(
    idle_sessions=2000,
    memory_runs=3,
    burst_sessions=10_000,
    burst_rounds=5,
    paced_sessions=10_000,
    paced_seconds=5.0,
    paced_runs=3,
    reload_sessions=1000,
    reload_runs=3,
    cycles_first=1000,
    cycles_total=100_000,
    cycle_concurrency=50,
)
QUICK = LoadSizes(
    idle_sessions=200,
    memory_runs=3,
    burst_sessions=1000,
    burst_rounds=5,
    paced_sessions=200,
    paced_seconds=2.0,
    paced_runs=3,
    reload_sessions=100,
    reload_runs=3,
    cycles_first=1000,
    cycles_total=3000,
    cycle_concurrency=50,
)

PACED_RATE = 2000
RELOADS_PER_SESSION = 10


@dataclass(frozen=True, slots=True)
class LoadContext:
    packs_root: Path
    reply_file: Path
    sizes: LoadSizes
    log: Callable[[str], None]


def prepare(workdir: Path, quick: bool, log: Callable[[str], None]) -> LoadContext:
    """Write two 10-character packs and the bare server's fixed reply (the same listing
    the real server sends for the default pack, so both put the same bytes on the wire)."""
    root = workdir / "packs"
    write_pack(root / DEFAULT_PACK, 10, toml_share=0.5)
    write_pack(root / OTHER_PACK, 10, first=100, toml_share=0.5)
    registry = load_pack(root / DEFAULT_PACK, DEFAULT_PACK)
    listed = CharactersListed(
        pack=registry.pack,
        version=registry.version,
        character_count=len(registry),
        characters=[
            CharacterSummary(name=c.name, good=c.good, comment=c.comment) for c in registry.values()
        ],
    )
    reply_file = workdir / "bare-reply.json"
    reply_file.write_bytes(encode(listed))
    return LoadContext(root, reply_file, QUICK if quick else FULL, log)


# --------------------------------------------------------------------------- loadtest


def _loadtest_argv(url: str, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "unmute_server",
        "loadtest",
        "--url",
        url,
        "--json",
        "--no-progress",
        *options,
    ]


def _parse_report(stdout: str, stderr: str, returncode: int) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if returncode not in (0, 1) or not lines:
        raise LoadError(f"loadtest exited with {returncode}:\n{stderr[-3000:]}")
    report: dict[str, Any] = json.loads(lines[-1])
    return report


@dataclass(frozen=True, slots=True)
class Sample:
    """The server as seen at the start of one load generator phase."""

    cpu_seconds: float
    loop_lag: dict[float, float]


def loadtest(
    url: str, *options: str, server: ServerProcess | None = None
) -> tuple[dict[str, Any], dict[str, Sample]]:
    """Run the load generator to the end: its JSON report, and ``server`` sampled at the
    start of every phase (``events``, ``round-1``, ``close``...) when a server is given."""
    argv = _loadtest_argv(url, *options, *(("--phase-lines",) if server else ()))
    samples: dict[str, Sample] = {}
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, text=True)
        watchdog = threading.Timer(LOADTEST_TIMEOUT, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            report_lines = []
            for line in process.stdout:
                if line.startswith("phase ") and server is not None:
                    lag = (
                        histogram_buckets(server.metrics_text(), LOOP_LAG)
                        if server.has_metrics
                        else {}
                    )
                    samples[line.split()[1]] = Sample(server.cpu_seconds(), lag)
                else:
                    report_lines.append(line)
            process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        errors.seek(0)
        report = _parse_report("".join(report_lines), errors.read(), process.returncode)
    return report, samples


@contextmanager
def held_sessions(url: str, sessions: int, *options: str) -> Iterator[dict[str, Any]]:
    """Open ``sessions`` idle sessions and hold them for the ``with`` block.

    The yielded dict receives the load generator's report under ``"report"`` on exit.
    """
    process = subprocess.Popen(
        _loadtest_argv(
            url, "--scenario", "idle", "--sessions", str(sessions), "--hold-stdin", *options
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    result: dict[str, Any] = {}
    try:
        line = process.stdout.readline()
        if not line.startswith("holding "):
            process.kill()
            _out, err = process.communicate()
            raise LoadError(f"loadtest did not start holding: {line!r}\n{err[-3000:]}")
        result["held"] = int(line.split()[1])
        yield result
    finally:
        if process.poll() is None:
            try:
                stdout, stderr = process.communicate(input="", timeout=LOADTEST_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            result["report"] = _parse_report(line + stdout, stderr, process.returncode)


def failures(report: dict[str, Any]) -> int:
    """Errors, unanswered events and failed connections of one load generator report."""
    totals = report["totals"]
    return int(totals["errors"]) + int(totals["unanswered"]) + int(totals["connect_failed"])


def loop_lag_p99(start: Sample, end: Sample) -> float:
    """The server's event-loop lag p99 between two samples, in milliseconds."""
    value, _count = histogram_quantile(start.loop_lag, end.loop_lag, 0.99)
    return value * 1000


# --------------------------------------------------------------------------- figures


def _idle_memory(server: ServerProcess, sessions: int) -> float:
    """Server RSS growth per held idle session, KiB (after a warm-up of 100 sessions)."""
    loadtest(server.ws_url, "--scenario", "idle", "--sessions", str(min(100, sessions)))
    time.sleep(0.3)
    base = server.rss()
    with held_sessions(server.ws_url, sessions) as held:
        time.sleep(1.0)
        grown = server.rss()
    if held["held"] != sessions or failures(held["report"]):
        raise LoadError(f"idle sessions failed: {held['report']['totals']}")
    return (grown - base) / sessions / KIB


def memory_figures(ctx: LoadContext) -> list[Figure]:
    sizes = ctx.sizes
    n = sizes.idle_sessions
    figures = []
    for compression in (False, True):
        ours_runs, bare_runs = [], []
        for run in range(sizes.memory_runs):
            state = "on" if compression else "off"
            ctx.log(f"memory per idle session, compression {state}, run {run + 1}")
            with unmute_server(ctx.packs_root, DEFAULT_PACK, compression=compression) as server:
                ours_runs.append(_idle_memory(server, n))
            with bare_server(ctx.reply_file, compression=compression) as bare:
                bare_runs.append(_idle_memory(bare, n))
        if compression:
            name = f"memory per idle session, deflate accepted ({n} sessions)"
            target = Target(ratio_at_most=2.0)
            note = "--ws-compression (opt-in); the 32 KiB target applies to the default"
        else:
            name = f"memory per idle session, default: deflate off ({n} sessions)"
            target = Target(at_most=32, ratio_at_most=2.0)
            note = "client offers permessage-deflate as browsers do; server declines"
        figures.append(Figure(name, "KiB", ours_runs, target, "bare aiohttp", bare_runs, note=note))
    return figures


def _burst(server: ServerProcess, sessions: int, rounds: int) -> tuple[list[float], int, float]:
    """Answers/s of each round, failures, and server CPU per answer during the rounds (us)."""
    report, samples = loadtest(
        server.ws_url,
        *("--scenario", "burst", "--sessions", str(sessions)),
        *("--rounds", str(rounds), "--ramp-batch", "200"),
        server=server,
    )
    answers = sum(r["answers"] for r in report["rounds"])
    cpu = samples["close"].cpu_seconds - samples["round-1"].cpu_seconds
    per_round = [r["per_second"] for r in report["rounds"]]
    return per_round, failures(report), cpu / max(answers, 1) * 1e6


def throughput_figures(ctx: LoadContext) -> list[Figure]:
    sizes = ctx.sizes
    n, m, rounds = sizes.burst_sessions, sizes.paced_sessions, sizes.burst_rounds
    paced_runs: list[float] = []
    paced_lag: list[float] = []
    paced_failures = 0
    with unmute_server(ctx.packs_root, DEFAULT_PACK, compression=False) as server:
        ctx.log(f"{n} sessions, list at once, {rounds} rounds: unmute-server")
        ours, ours_failed, ours_cpu = _burst(server, n, rounds)
    for run in range(sizes.paced_runs):
        ctx.log(f"{m} sessions, list paced at {PACED_RATE}/s, run {run + 1}")
        with unmute_server(ctx.packs_root, DEFAULT_PACK, compression=False) as server:
            paced, samples = loadtest(
                server.ws_url,
                *("--scenario", "list", "--sessions", str(m), "--ramp-batch", "200"),
                *("--rate", str(PACED_RATE), "--duration", str(sizes.paced_seconds)),
                server=server,
            )
        paced_lag.append(loop_lag_p99(samples["events"], samples["close"]))
        paced_runs.append(paced["latency"]["session.characters.list"]["p99"] * 1000)
        paced_failures += failures(paced)
    ctx.log(f"{n} sessions, list at once, {rounds} rounds: bare aiohttp")
    with bare_server(ctx.reply_file, compression=False) as bare:
        base, base_failed, base_cpu = _burst(bare, n, rounds)
    return [
        Figure(
            f"{n:,} sessions all send list at once: answers/s",
            "1/s",
            ours,
            Target(ratio_at_least=0.7),
            "bare aiohttp",
            base,
            note=f"one value per round; {rounds} rounds on {n} held sessions; the client "
            "and the server share the machine's 2 cores",
        ),
        Figure(
            "  same: errors",
            "count",
            [float(ours_failed)],
            Target(at_most=0),
            "bare aiohttp",
            [float(base_failed)],
            note="errors + unanswered + failed connections over all rounds",
        ),
        Figure(
            "  same: server CPU per answer",
            "us",
            [ours_cpu],
            None,
            "bare aiohttp",
            [base_cpu],
            note="server process CPU time during the rounds / answers",
        ),
        Figure(
            f"{m:,} sessions, list paced at {PACED_RATE:,}/s: p99 latency",
            "ms",
            paced_runs,
            Target(at_most=20),
            note=f"{sizes.paced_seconds:g} s per run after all sessions connected; "
            "client-side send-to-answer time",
        ),
        Figure("  same: errors (all runs)", "count", [float(paced_failures)], Target(at_most=0)),
        Figure(
            "  same: server loop lag p99",
            "ms",
            paced_lag,
            None,
            note="unmute_event_loop_lag_seconds over the paced phase, interpolated in buckets",
        ),
    ]


def _reload_run(ctx: LoadContext, sessions: int, rate: int | None) -> tuple[dict[str, Any], float]:
    with unmute_server(ctx.packs_root, DEFAULT_PACK, compression=False) as server:
        report, samples = loadtest(
            server.ws_url,
            *("--scenario", "mix", "--sessions", str(sessions), "--events", "0"),
            *("--reloads", str(RELOADS_PER_SESSION), "--packs", f"{OTHER_PACK},{DEFAULT_PACK}"),
            *("--ramp-batch", "200", *(("--rate", str(rate)) if rate else ())),
            server=server,
        )
    return report, loop_lag_p99(samples["events"], samples["close"])


def reload_figures(ctx: LoadContext) -> list[Figure]:
    n = ctx.sizes.reload_sessions
    p99_runs, lag_runs, errors = [], [], 0
    for run in range(ctx.sizes.reload_runs):
        ctx.log(f"{n} sessions x {RELOADS_PER_SESSION} reloads at {PACED_RATE}/s, run {run + 1}")
        report, lag = _reload_run(ctx, n, PACED_RATE)
        p99_runs.append(report["latency"]["session.characters.reload"]["p99"] * 1000)
        lag_runs.append(lag)
        errors += failures(report)
    ctx.log(f"{n} sessions x {RELOADS_PER_SESSION} reloads, unpaced")
    flat_out, flat_lag = _reload_run(ctx, n, None)
    name = f"{n:,} sessions x {RELOADS_PER_SESSION} reloads between 2 packs"
    return [
        Figure(
            f"{name}: reload p99",
            "ms",
            p99_runs,
            Target(at_most=100),
            note=f"each reload then a list and an update; all events paced at {PACED_RATE}/s",
        ),
        Figure("  same: errors (all runs)", "count", [float(errors)], Target(at_most=0)),
        Figure(
            "  same: server loop lag p99",
            "ms",
            lag_runs,
            Target(at_most=10),
            note="unmute_event_loop_lag_seconds over the events phase, interpolated in buckets",
        ),
        Figure(
            "  unpaced (saturated): reload p99",
            "ms",
            [flat_out["latency"]["session.characters.reload"]["p99"] * 1000],
            None,
            note=f"every session sends as fast as answers come; {failures(flat_out)} failures",
        ),
        Figure(
            "  unpaced (saturated): answers/s",
            "1/s",
            [flat_out["totals"]["throughput_per_second"]],
            None,
        ),
        Figure("  unpaced (saturated): server loop lag p99", "ms", [flat_lag], None),
    ]


def cycle_figures(ctx: LoadContext) -> list[Figure]:
    sizes = ctx.sizes
    rest = sizes.cycles_total - sizes.cycles_first

    def cycles(server: ServerProcess, count: int) -> tuple[dict[str, Any], dict[str, Sample]]:
        return loadtest(
            server.ws_url,
            "--scenario",
            "cycles",
            "--cycles",
            str(count),
            "--sessions",
            str(sizes.cycle_concurrency),
            "--packs",
            f"{OTHER_PACK},{DEFAULT_PACK}",
        )

    with unmute_server(ctx.packs_root, DEFAULT_PACK, compression=False) as server:
        ctx.log(f"connect/reload/disconnect cycles: first {sizes.cycles_first}")
        first, _ = cycles(server, sizes.cycles_first)
        time.sleep(0.5)
        rss_first = server.rss() / MIB
        ctx.log(f"connect/reload/disconnect cycles: {rest} more")
        second, _ = cycles(server, rest)
        time.sleep(0.5)
        rss_last = server.rss() / MIB
    total = sizes.cycles_total
    return [
        Figure(
            f"server RSS after {total:,} connect/reload/disconnect cycles",
            "MiB",
            [rss_last],
            Target(ratio_at_most=1.1),
            f"after {sizes.cycles_first:,}",
            [rss_first],
            note=f"{sizes.cycle_concurrency} cycles in flight; one run",
        ),
        Figure(
            "  same: errors",
            "count",
            [float(failures(first) + failures(second))],
            Target(at_most=0),
            note=f"{second['cycles_completed'] + first['cycles_completed']} cycles completed",
        ),
    ]
