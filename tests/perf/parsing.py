"""Reload under stress: the worst pack inside the limits, reloaded cold again and again,
must not cost the other sessions (issue 8, section 3).

One server per run. In the stressed runs a reloader in this process keeps one session
reloading the worst in-limits pack (255 files of 256 KiB of nested lists, plus one small
file it rewrites before each reload so every reload misses the cache and is built again)
while ``unmute-server loadtest`` drives paced ``list`` events on other sessions. The idle
runs are the same load on a server that no one reloads. Both report the ``list`` p99 seen
by the clients and the server's event-loop lag p99, run by run, interleaved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.characters.costly_packs import write_costly_pack
from tests.perf.figures import Figure, Target
from tests.perf.load import DEFAULT_PACK, LoadContext, failures, loadtest, loop_lag_p99
from tests.perf.servers import unmute_server
from unmute_server.characters.limits import DEFAULT_LIMITS

WORST_PACK = "worst"
#: Costly files of ``max_file_bytes`` each: with the one small file, the pack fills
#: ``max_pack_bytes`` without passing it.
WORST_FILES = DEFAULT_LIMITS.max_pack_bytes // DEFAULT_LIMITS.max_file_bytes - 1
CHANGING_FILE = "changing.toml"


@dataclass(frozen=True, slots=True)
class StressSizes:
    sessions: int
    rate: int
    seconds: float
    runs: int
    cpu_budget: float


FULL = StressSizes(sessions=200, rate=1000, seconds=10.0, runs=3, cpu_budget=5.0)
QUICK = StressSizes(sessions=50, rate=500, seconds=2.0, runs=1, cpu_budget=1.0)


def write_worst_pack(root: Path) -> None:
    write_costly_pack(root / WORST_PACK, WORST_FILES)
    (root / WORST_PACK / CHANGING_FILE).write_text('name = "Change 0"\n', encoding="utf-8")


class Reloader:
    """One session that reloads the worst pack, cold each time, until stopped."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.answers: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Reloader:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(120)

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as http, http.ws_connect(self.url) as ws:
            number = 0
            while not self._stop.is_set():
                number += 1
                changing = self.folder / CHANGING_FILE
                changing.write_text(f'name = "Change {number}"\n', encoding="utf-8")
                reload = {"type": "session.characters.reload", "pack": WORST_PACK}
                await ws.send_str(json.dumps(reload))
                answer = json.loads((await ws.receive(timeout=120)).data)
                self.answers[answer.get("error", {}).get("code") or answer["type"]] += 1


def stress_figures(ctx: LoadContext, quick: bool) -> list[Figure]:
    sizes = QUICK if quick else FULL
    write_worst_pack(ctx.packs_root)
    idle_p99: list[float] = []
    idle_lag: list[float] = []
    stressed_p99: list[float] = []
    stressed_lag: list[float] = []
    errors = 0
    answers: Counter[str] = Counter()
    budget = ["--pack-build-cpu-seconds", f"{sizes.cpu_budget:g}"]
    for run in range(sizes.runs):
        for stressed in (False, True):
            what = "while the worst pack reloads" if stressed else "idle"
            ctx.log(
                f"{sizes.sessions} sessions, list paced at {sizes.rate}/s, {what}, run {run + 1}"
            )
            with unmute_server(
                ctx.packs_root, DEFAULT_PACK, compression=False, extra=budget
            ) as server:
                reloader = Reloader(server.ws_url, ctx.packs_root / WORST_PACK)
                with reloader if stressed else contextlib.nullcontext():
                    report, samples = loadtest(
                        server.ws_url,
                        *("--scenario", "list", "--sessions", str(sizes.sessions)),
                        *("--rate", str(sizes.rate), "--duration", str(sizes.seconds)),
                        server=server,
                    )
            p99 = report["latency"]["session.characters.list"]["p99"] * 1000
            lag = loop_lag_p99(samples["events"], samples["close"])
            (stressed_p99 if stressed else idle_p99).append(p99)
            (stressed_lag if stressed else idle_lag).append(lag)
            errors += failures(report)
            answers += reloader.answers
    p99_excess = [s - i for s, i in zip(stressed_p99, idle_p99, strict=True)]
    lag_excess = [s - i for s, i in zip(stressed_lag, idle_lag, strict=True)]
    reloads = sum(answers.values())
    name = f"{sizes.sessions} sessions, list paced at {sizes.rate:,}/s"
    return [
        Figure(
            f"{name}, while the worst in-limits pack reloads cold: list p99",
            "ms",
            stressed_p99,
            None,
            "idle server",
            idle_p99,
            note=f"{WORST_FILES} files of 256 KiB; --pack-build-cpu-seconds {sizes.cpu_budget:g}",
        ),
        Figure("  same: list p99 minus the idle server's", "ms", p99_excess, Target(at_most=10)),
        Figure(
            "  same: server loop lag p99",
            "ms",
            stressed_lag,
            None,
            "idle server",
            idle_lag,
        ),
        Figure(
            "  same: loop lag p99 minus the idle server's", "ms", lag_excess, Target(at_most=10)
        ),
        Figure(
            "  same: cold reloads answered pack_too_costly",
            "count",
            [float(answers["pack_too_costly"])],
            Target(at_least=1),
            note=f"{reloads} reloads in all: {dict(answers)}",
        ),
        Figure("  same: list errors (all runs)", "count", [float(errors)], Target(at_most=0)),
    ]
