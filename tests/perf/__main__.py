"""``python -m tests.perf [--quick] [--json PATH]``: run every benchmark, print one table.

Exit status 0 when the suite ran (whatever the figures say: targets are reported, not
enforced, because timings depend on the machine), 2 when a benchmark could not run (a
server did not start, the load generator failed): then the table marks what is missing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from tests.perf import llm, load, micro, parsing, voice
from tests.perf.figures import Figure, format_table
from unmute_server.loadtest.rlimit import raise_open_file_limit

FAMILIES = ("micro", "memory", "throughput", "reload", "stress", "cycles", "voice", "llm")
#: Left out of ``--quick`` (unless named with ``--only``): each needs a model loaded afresh.
NOT_QUICK = ("llm",)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes for a CI smoke run (well under 2 min)"
    )
    parser.add_argument(
        "--json", type=Path, default=Path("bench-results.json"), help="(bench-results.json)"
    )
    parser.add_argument(
        "--only", action="append", choices=FAMILIES, help="run only these families (repeatable)"
    )
    args = parser.parse_args(argv)
    command = "python -m tests.perf" + (" --quick" if args.quick else "")
    limit = raise_open_file_limit()
    log(f"{command}: {limit.describe() if limit else 'open-file limit not adjustable here'}")
    started = time.perf_counter()
    figures: list[Figure] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="unmute-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "micro").mkdir()
        context = load.prepare(workdir, args.quick, log)
        families: dict[str, Callable[[], list[Figure]]] = {
            "micro": lambda: micro.micro_figures(workdir / "micro", args.quick),
            "memory": lambda: load.memory_figures(context),
            "throughput": lambda: load.throughput_figures(context),
            "reload": lambda: load.reload_figures(context),
            "stress": lambda: parsing.stress_figures(context, args.quick),
            "cycles": lambda: load.cycle_figures(context),
            "voice": lambda: voice.voice_figures(workdir / "voice", args.quick, log),
            "llm": lambda: llm.llm_figures(workdir, args.quick, log),
        }
        chosen = args.only or [name for name in FAMILIES if not (args.quick and name in NOT_QUICK)]
        for name in chosen:
            family_started = time.perf_counter()
            log(f"{name} ...")
            try:
                figures.extend(families[name]())
            except Exception as error:
                problems.append(f"{name}: {error}")
                traceback.print_exc(file=sys.stderr)
                figures.append(Figure(f"{name} benchmarks", "", [], missing=type(error).__name__))
            log(f"{name} done in {time.perf_counter() - family_started:.1f} s")
    seconds = time.perf_counter() - started
    print(
        f"{command}  ({os.cpu_count()} CPUs, Python {platform.python_version()}, {seconds:.0f} s)"
    )
    print(format_table(figures))
    failed = [f.name.strip() for f in figures if f.verdict == "FAIL"]
    print(
        f"{len(figures)} figures, {len(failed)} targets missed"
        + (f": {'; '.join(failed)}" if failed else "")
    )
    result = {
        "command": command,
        "quick": args.quick,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seconds": seconds,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "open_file_limit": limit.describe() if limit else None,
        "problems": problems,
        "figures": [figure.to_json() for figure in figures],
    }
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {args.json}")
    for problem in problems:
        log(f"could not run: {problem}")
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
