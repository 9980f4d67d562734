"""Micro benchmarks in this process: parsing one file, loading a pack, a cache-hit reload.

Baselines are measured in the same run, interleaved with the figure they compare to (one
run of each, then the next run of each), so a machine that speeds up or slows down during
the suite moves both alike.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.perf.exec_loader import exec_load_file, exec_load_pack
from tests.perf.figures import Figure, Target
from tests.perf.synthetic import character_bytes, write_pack
from unmute_server.characters.charfile import parse_character_file
from unmute_server.characters.pack import load_pack
from unmute_server.characters.registry import RegistryCache

US = 1e6
MS = 1e3


@dataclass(frozen=True, slots=True)
class MicroSizes:
    files: int
    runs: int
    small_pack_loads: int
    hit_loads: int
    big_pack: int
    big_cold_runs: int


FULL = MicroSizes(
    files=500, runs=7, small_pack_loads=50, hit_loads=20, big_pack=1000, big_cold_runs=5
)
QUICK = MicroSizes(
    files=300, runs=5, small_pack_loads=10, hit_loads=5, big_pack=1000, big_cold_runs=3
)


def _seconds(work: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


@contextmanager
def _no_bytecode_cache() -> Iterator[None]:
    """The exec baseline compiles every time (a cold load), as on a first start."""
    before = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = before


def _require_characters(suffix: str, blobs: list[bytes]) -> None:
    """A benchmark of files that fail to parse would measure the error path: refuse it."""
    for index, data in enumerate(blobs):
        result = parse_character_file(f"c{index}{suffix}", data)
        if result.character is None:
            raise RuntimeError(
                f"synthetic {suffix} file {index} does not load: {result.diagnostics}"
            )


def python_file_figures(workdir: Path, sizes: MicroSizes) -> list[Figure]:
    blobs = [character_bytes(i, ".py") for i in range(sizes.files)]
    names = [f"c{i:05d}.py" for i in range(sizes.files)]
    _require_characters(".py", blobs)
    folder = workdir / "exec-files"
    folder.mkdir()
    paths = []
    for name, data in zip(names, blobs, strict=True):
        path = folder / name
        path.write_bytes(data)
        paths.append(path)

    def ours() -> None:
        for name, data in zip(names, blobs, strict=True):
            parse_character_file(name, data)

    def bare() -> None:
        for data in blobs:
            ast.parse(data)

    session = 0

    def executed() -> None:
        nonlocal session
        session += 1
        for path in paths:
            exec_load_file(path, f"s{session}")

    ours_runs, bare_runs, exec_runs = [], [], []
    with _no_bytecode_cache():
        for work in (ours, bare, executed):  # warm-up: imports, first-call caches
            work()
        for _ in range(sizes.runs):
            ours_runs.append(_seconds(ours) / len(blobs) * US)
            bare_runs.append(_seconds(bare) / len(blobs) * US)
            exec_runs.append(_seconds(executed) / len(blobs) * US)
    note = f"{len(blobs)} distinct files of ~{sum(map(len, blobs)) // len(blobs)} bytes per run"
    return [
        Figure(
            "cold parse + validate per .py file",
            "us",
            ours_runs,
            Target(at_most=100, ratio_at_most=1.5),
            "ast.parse",
            bare_runs,
            note=note,
        ),
        Figure(
            "  same, vs exec-based loader (peers)",
            "us",
            list(ours_runs),
            None,
            "exec_module",
            exec_runs,
            note="importlib exec_module into a session-prefixed module, no .pyc cache; "
            "baseline only, never used by the server",
        ),
    ]


def toml_file_figures(sizes: MicroSizes) -> list[Figure]:
    blobs = [character_bytes(i, ".toml") for i in range(sizes.files)]
    names = [f"c{i:05d}.toml" for i in range(sizes.files)]
    _require_characters(".toml", blobs)

    def ours() -> None:
        for name, data in zip(names, blobs, strict=True):
            parse_character_file(name, data)

    def bare() -> None:
        for data in blobs:
            tomllib.loads(data.decode("utf-8"))

    ours()
    bare()
    ours_runs, bare_runs = [], []
    for _ in range(sizes.runs):
        ours_runs.append(_seconds(ours) / len(blobs) * US)
        bare_runs.append(_seconds(bare) / len(blobs) * US)
    return [
        Figure(
            "cold parse + validate per .toml file",
            "us",
            ours_runs,
            Target(at_most=100, ratio_at_most=1.5),
            "tomllib.loads",
            bare_runs,
            note=f"{len(blobs)} distinct files of ~{sum(map(len, blobs)) // len(blobs)} bytes",
        )
    ]


def small_pack_figures(workdir: Path, sizes: MicroSizes) -> list[Figure]:
    folder = write_pack(workdir / "pack10", 10)
    loads = sizes.small_pack_loads
    if len(load_pack(folder, "pack10")) != 10:
        raise RuntimeError("the synthetic 10-character pack does not load 10 characters")
    session = 0

    def ours() -> None:
        for _ in range(loads):
            load_pack(folder, "pack10")

    def executed() -> None:
        nonlocal session
        for _ in range(loads):
            session += 1
            exec_load_pack(folder, f"p{session}")

    ours_runs, exec_runs = [], []
    with _no_bytecode_cache():
        ours()
        executed()
        for _ in range(sizes.runs):
            ours_runs.append(_seconds(ours) / loads * MS)
            exec_runs.append(_seconds(executed) / loads * MS)
    return [
        Figure(
            "cold load of a 10-character pack (.py)",
            "ms",
            ours_runs,
            Target(at_most=2.0),
            "exec_module",
            exec_runs,
            note="load_pack: list, read, parse, validate, build the registry; no cache",
        )
    ]


def cache_hit_figures(workdir: Path, sizes: MicroSizes) -> list[Figure]:
    folder = write_pack(workdir / "pack1000", sizes.big_pack, toml_share=0.5)
    # The cache trusts a folder's stat fingerprint only once its files are older than the
    # file system's clock tick (50 ms); a real pack has been on disk far longer.
    time.sleep(0.2)
    hit_runs, hit_nostat_runs, cold_runs = [], [], []
    parses_during_hits: list[float] = []

    async def measure() -> None:
        cache = RegistryCache()
        plain = RegistryCache(fingerprints=False)
        held = [await cache.load(folder, "pack1000"), await plain.load(folder, "pack1000")]
        if len(held[0]) != sizes.big_pack:
            raise RuntimeError(f"the {sizes.big_pack}-character pack loaded {len(held[0])}")
        for _ in range(sizes.runs):
            before = cache.stats.parses + plain.stats.parses
            gc.collect()
            started = time.perf_counter()
            for _ in range(sizes.hit_loads):
                await cache.load(folder, "pack1000")
            hit_runs.append((time.perf_counter() - started) / sizes.hit_loads * MS)
            started = time.perf_counter()
            for _ in range(sizes.hit_loads):
                await plain.load(folder, "pack1000")
            hit_nostat_runs.append((time.perf_counter() - started) / sizes.hit_loads * MS)
            parses_during_hits.append(cache.stats.parses + plain.stats.parses - before)
        del held

    asyncio.run(measure())
    for _ in range(sizes.big_cold_runs):
        cold_runs.append(_seconds(lambda: load_pack(folder, "pack1000")) * MS)
    pack = f"{sizes.big_pack}-character pack (half .py, half .toml)"
    return [
        Figure(
            "reload of an unchanged 1,000-character pack (cache hit)",
            "ms",
            hit_runs,
            Target(at_most=20.0),
            "cold load",
            cold_runs,
            note=f"RegistryCache.load, stat fingerprint fast path; {pack}",
        ),
        Figure(
            "  same, cache hit without stat fingerprints",
            "ms",
            hit_nostat_runs,
            Target(at_most=20.0),
            "cold load",
            list(cold_runs),
            note="RegistryCache(fingerprints=False): reads and hashes every file, no parse",
        ),
        Figure(
            "  parses during those cache-hit reloads",
            "count",
            parses_during_hits,
            Target(at_most=0),
            note="RegistryCache.stats.parses before/after",
        ),
    ]


def micro_figures(workdir: Path, quick: bool) -> list[Figure]:
    sizes = QUICK if quick else FULL
    return [
        *python_file_figures(workdir, sizes),
        *toml_file_figures(sizes),
        *small_pack_figures(workdir, sizes),
        *cache_hit_figures(workdir, sizes),
    ]
