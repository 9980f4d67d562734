"""Builds in a child process: the same registry as in-process, within a budget, killable.

Every test starts real child processes through the forkserver and parses real files; the
costly packs are real restricted-Python files of the kind that made a thread stall the loop.
"""

from __future__ import annotations

import asyncio
import io
import os
import pickle
from pathlib import Path

import pytest

from tests.characters.costly_packs import write_costly_pack
from tests.characters.test_hostile_files import FILLER, HOSTILE
from tests.characters.test_pack_security import PARSER_EDGES, hostile_sources
from unmute_server.characters.build_worker import (
    OVER_BUDGET_CODE,
    BudgetExceeded,
    BuildBudget,
    BuildFinished,
    BuildStoppedError,
    BuiltPack,
    IsolatedBuilder,
    OverBudget,
    _ResultUnpickler,
)
from unmute_server.characters.limits import DEFAULT_LIMITS
from unmute_server.characters.pack import PACK_PATH, load_pack, read_pack

BUNDLED = Path(__file__).resolve().parents[2] / "character_packs"


def fixture_packs(tmp_path: Path) -> list[Path]:
    """Every bundled pack and every hostile-file fixture of ``tests/characters``, as packs."""
    marker = tmp_path / "marker"
    sources = {
        "edges": PARSER_EDGES,
        "hostile": hostile_sources(marker),
        "hostile_files": {
            f"{name}.py": source.replace("MARKER", repr(str(marker))) + FILLER
            for name, (source, _codes) in HOSTILE.items()
        },
    }
    folders = []
    for name, files in sources.items():
        folder = tmp_path / name
        folder.mkdir()
        for file_name, text in files.items():
            (folder / file_name).write_text(text, encoding="utf-8")
        folders.append(folder)
    return folders + sorted(path for path in BUNDLED.iterdir() if path.is_dir())


async def test_a_child_builds_what_an_in_process_load_builds(tmp_path: Path) -> None:
    builder = IsolatedBuilder()
    for folder in fixture_packs(tmp_path):
        expected = load_pack(folder, folder.name)
        built = await builder.build(read_pack(folder), folder.name, DEFAULT_LIMITS)
        assert isinstance(built, BuiltPack), folder.name
        assert built.characters == expected.characters, folder.name
        assert [c.name for c in built.characters] == list(expected), folder.name
        assert built.diagnostics == expected.diagnostics, folder.name
        assert built.total_files == expected.total_files, folder.name
    assert not (tmp_path / "marker").exists()


async def test_a_build_over_its_cpu_budget_is_stopped_with_chr407(tmp_path: Path) -> None:
    folder = write_costly_pack(tmp_path / "costly")
    os.mkfifo(folder / "unreadable.toml")
    finished: list[BuildFinished] = []
    builder = IsolatedBuilder(BuildBudget(cpu_seconds=0.2), on_finished=finished.append)
    snapshot = read_pack(folder)
    result = await builder.build(snapshot, "costly", DEFAULT_LIMITS)
    assert isinstance(result, OverBudget)
    assert result.exceeded is BudgetExceeded.CPU
    assert [d.code for d in result.diagnostics] == ["CHR003", OVER_BUDGET_CODE]
    last = result.diagnostics[-1]
    assert (last.path, last.line, last.col) == (PACK_PATH, 0, 0)
    assert "CPU time budget of 0.2 s" in last.message
    assert result.total_files == 5  # four read, one unreadable: as an in-process build counts
    assert [(f.outcome, f.exceeded) for f in finished] == [("over_budget", BudgetExceeded.CPU)]
    assert builder.running == 0


async def test_stop_kills_a_running_build_and_refuses_new_ones(tmp_path: Path) -> None:
    folder = write_costly_pack(tmp_path / "costly", files=60)
    builder = IsolatedBuilder(BuildBudget(cpu_seconds=600))
    build = asyncio.ensure_future(builder.build(read_pack(folder), "costly", DEFAULT_LIMITS))
    for _ in range(2000):
        if builder.running:
            break
        await asyncio.sleep(0.005)
    assert builder.running == 1
    builder.stop()
    # A minute of parsing was left: only a killed child ends this wait within the bound.
    with pytest.raises(BuildStoppedError):
        await asyncio.wait_for(build, 15)
    assert builder.running == 0
    with pytest.raises(BuildStoppedError):
        await builder.build(read_pack(BUNDLED / "default"), "default", DEFAULT_LIMITS)


async def test_builds_beyond_the_bound_wait_their_turn(tmp_path: Path) -> None:
    builder = IsolatedBuilder(BuildBudget(cpu_seconds=0.3, max_concurrent=1))
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(builder.running)
            await asyncio.sleep(0.002)

    snapshots = [read_pack(write_costly_pack(tmp_path / f"p{index}", 2)) for index in range(3)]
    watcher = asyncio.ensure_future(watch())
    try:
        results = await asyncio.gather(
            *(builder.build(snapshot, "p", DEFAULT_LIMITS) for snapshot in snapshots)
        )
    finally:
        watcher.cancel()
    assert all(isinstance(result, OverBudget) for result in results)
    assert max(seen) == 1


def test_the_result_unpickler_resolves_nothing_but_character_classes() -> None:
    allowed = load_pack(BUNDLED / "default", "default")
    data = pickle.dumps((allowed.characters, allowed.diagnostics))
    assert _ResultUnpickler(io.BytesIO(data)).load() == (allowed.characters, allowed.diagnostics)
    for hostile in (pickle.dumps(print), pickle.dumps(Path("x")), pickle.dumps(OverBudget)):
        with pytest.raises(pickle.UnpicklingError, match="may not hold"):
            _ResultUnpickler(io.BytesIO(hostile)).load()
