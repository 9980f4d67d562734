"""CharacterRegistry immutability and the shared, content-keyed, single-flight cache."""

from __future__ import annotations

import asyncio
import collections
import copy
import gc
import itertools
import mmap
import os
import pickle
import shutil
import sys
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.limits import LoadLimits
from unmute_server.characters.model import Character
from unmute_server.characters.pack import PackChangedError
from unmute_server.characters.registry import CacheStats, CharacterRegistry, RegistryCache


def character(name: str, *, good: bool = False) -> Character:
    return Character.model_validate(
        {
            "name": name,
            "good": good,
            "voice": {"source_type": "file", "path_on_server": "voices/x.wav"},
            "instructions": {"type": "constant", "text": f"You are {name}."},
        }
    )


def character_toml(name: str, *, text: str = "Hello there.") -> str:
    return tomli_w.dumps(
        {
            "name": name,
            "voice": {"source_type": "file", "path_on_server": "voices/x.wav"},
            "instructions": {"type": "constant", "text": text},
        }
    )


def write_pack(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (folder / f"c{index}.toml").write_text(character_toml(f"C{index}"))
    return folder


def rewrite_keeping_size(path: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` (same length) in ``path``, so its size is unchanged."""
    assert len(old) == len(new)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def read_chars() -> int:
    """Bytes this process has passed through read(2) and friends so far (Linux only)."""
    with open("/proc/self/io", encoding="ascii") as counters:
        for line in counters:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar line in /proc/self/io")


@pytest.fixture
def registry() -> CharacterRegistry:
    return CharacterRegistry(
        pack="demo",
        content_key="0123456789abcdef" * 4,
        characters=(character("Bo"), character("Al", good=True), character("Cy")),
        diagnostics=(
            Diagnostic("x.toml", 1, 1, "CHR200", "TOML syntax error"),
            Diagnostic("y.py", 0, 0, "CHR401", "y.py is shadowed by y.toml and is not read"),
        ),
        total_files=5,
    )


# --------------------------------------------------------------------------- registry


def test_registry_is_a_mapping_in_the_order_given(registry: CharacterRegistry) -> None:
    assert list(registry) == ["Bo", "Al", "Cy"]
    assert registry["Al"].good is True
    assert "Bo" in registry
    assert "Zed" not in registry
    assert registry.get("Zed") is None
    assert len(registry) == 3
    assert [c.name for c in registry.characters] == ["Bo", "Al", "Cy"]
    assert list(registry.values()) == list(registry.characters)


def test_registry_counts_and_version(registry: CharacterRegistry) -> None:
    assert registry.loaded_count == 3
    assert registry.error_count == 1
    assert registry.total_files == 5
    assert registry.version == "0123456789ab"
    assert registry.pack == "demo"


def test_first_good_prefers_a_good_character_then_the_first(registry: CharacterRegistry) -> None:
    first = registry.first_good()
    assert first is not None
    assert first.name == "Al"
    plain = CharacterRegistry(pack="p", content_key="k" * 64, characters=(character("X"),))
    assert plain.first_good() == character("X")
    assert CharacterRegistry(pack="p", content_key="k" * 64, characters=()).first_good() is None


def test_repr_names_the_pack_version_and_counts(registry: CharacterRegistry) -> None:
    assert repr(registry) == (
        "<CharacterRegistry pack='demo' version=0123456789ab characters=3 errors=1>"
    )


@pytest.mark.parametrize("attribute", ["pack", "content_key", "characters", "_by_name", "new"])
def test_attributes_cannot_be_set_or_deleted(registry: CharacterRegistry, attribute: str) -> None:
    with pytest.raises(AttributeError):
        setattr(registry, attribute, "changed")
    with pytest.raises(AttributeError):
        delattr(registry, attribute)
    assert registry.pack == "demo"
    assert len(registry) == 3


def test_object_setattr_cannot_add_attributes_either(registry: CharacterRegistry) -> None:
    with pytest.raises(AttributeError):
        object.__setattr__(registry, "extra", 1)


def test_items_cannot_be_assigned_deleted_or_popped(registry: CharacterRegistry) -> None:
    target: Any = registry
    with pytest.raises(TypeError):
        target["Dee"] = character("Dee")
    with pytest.raises(TypeError):
        del target["Bo"]
    for method in ("pop", "popitem", "clear", "update", "setdefault", "__setitem__"):
        assert not hasattr(registry, method), method
    inner: Any = registry._by_name
    with pytest.raises(TypeError):
        inner["Dee"] = character("Dee")
    assert list(registry) == ["Bo", "Al", "Cy"]


def test_copies_are_the_same_object_and_pickling_is_refused(registry: CharacterRegistry) -> None:
    assert copy.copy(registry) is registry
    assert copy.deepcopy(registry) is registry
    with pytest.raises(TypeError):
        pickle.dumps(registry)


def test_registries_are_equal_only_to_themselves(registry: CharacterRegistry) -> None:
    twin = CharacterRegistry(
        pack=registry.pack, content_key=registry.content_key, characters=registry.characters
    )
    assert registry == registry  # noqa: PLR0124
    assert registry != twin
    assert registry != dict(registry)
    assert len({registry, twin}) == 2


def test_registry_is_weak_referenceable(registry: CharacterRegistry) -> None:
    reference = weakref.ref(registry)
    assert reference() is registry


def test_duplicate_names_are_refused_by_the_constructor() -> None:
    with pytest.raises(ValueError, match="'A' appears twice"):
        CharacterRegistry(pack="p", content_key="k", characters=(character("A"), character("A")))


# --------------------------------------------------------------------------- cache, sync


def test_identical_bytes_give_the_same_registry_object(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p")
    cache = RegistryCache()
    first = cache.load_sync(pack, "p")
    second = cache.load_sync(pack, "p")
    assert first is second
    assert cache.stats == CacheStats(hits=1, misses=1, parses=1)


def test_two_copies_of_one_pack_share_one_registry(tmp_path: Path) -> None:
    original = write_pack(tmp_path / "one")
    duplicate = tmp_path / "two"
    shutil.copytree(original, duplicate)
    cache = RegistryCache()
    assert cache.load_sync(original, "p") is cache.load_sync(duplicate, "p")
    assert cache.stats.parses == 1


def test_same_bytes_under_another_pack_name_is_another_registry(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p")
    cache = RegistryCache()
    first = cache.load_sync(pack, "first")
    second = cache.load_sync(pack, "second")
    assert first is not second
    assert (first.pack, second.pack) == ("first", "second")
    assert first.content_key == second.content_key


def test_a_changed_file_gives_a_new_registry(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p")
    cache = RegistryCache()
    first = cache.load_sync(pack, "p")
    (pack / "c1.toml").write_text(character_toml("Changed"))
    second = cache.load_sync(pack, "p")
    assert second is not first
    assert list(second) == ["C0", "Changed", "C2"]
    assert list(first) == ["C0", "C1", "C2"]


def test_an_added_or_removed_file_gives_a_new_registry(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p")
    cache = RegistryCache()
    first = cache.load_sync(pack, "p")
    (pack / "c9.toml").write_text(character_toml("C9"))
    added = cache.load_sync(pack, "p")
    (pack / "c9.toml").unlink()
    removed = cache.load_sync(pack, "p")
    assert list(added) == ["C0", "C1", "C2", "C9"]
    assert removed is first


def test_unused_registries_are_freed(tmp_path: Path) -> None:
    cache = RegistryCache()
    first = cache.load_sync(write_pack(tmp_path / "a"), "a")
    second = cache.load_sync(write_pack(tmp_path / "b", count=2), "b")
    assert cache.live_registries() == 2
    reference = weakref.ref(first)
    del first
    gc.collect()
    assert reference() is None
    assert cache.live_registries() == 1
    del second
    gc.collect()
    assert cache.live_registries() == 0


def test_a_freed_registry_is_built_again_on_the_next_load(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p")
    cache = RegistryCache()
    cache.load_sync(pack, "p")
    gc.collect()
    assert cache.live_registries() == 0
    again = cache.load_sync(pack, "p")
    assert list(again) == ["C0", "C1", "C2"]
    assert cache.stats == CacheStats(hits=0, misses=2, parses=2)


def test_a_missing_folder_loads_as_an_empty_registry_with_chr406(tmp_path: Path) -> None:
    registry = RegistryCache().load_sync(tmp_path / "missing", "missing")
    assert len(registry) == 0
    assert [d.code for d in registry.diagnostics] == ["CHR406", "CHR402"]


def test_the_cache_applies_its_limits(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", count=4)
    registry = RegistryCache(LoadLimits(max_files_per_pack=2)).load_sync(pack, "p")
    assert len(registry) == 0
    assert [d.code for d in registry.diagnostics] == ["CHR403", "CHR402"]


def test_threads_loading_one_pack_all_get_one_object(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", count=20)
    cache = RegistryCache()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: cache.load_sync(pack, "p"), range(32)))
    assert all(result is results[0] for result in results)
    stats = cache.stats
    assert stats.hits + stats.misses == 32
    assert cache.live_registries() == 1


# --------------------------------------------------------------------------- fingerprint


def test_fast_path_reload_reads_no_file_bytes(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("read_chars is a Linux /proc counter")
    pack = write_pack(tmp_path / "p", count=40)
    cache = RegistryCache(settle_ns=0)
    first = cache.load_sync(pack, "p")
    before = read_chars()
    again = cache.load_sync(pack, "p")
    assert read_chars() - before < 40 * 100
    assert again is first
    assert cache.stats == CacheStats(hits=1, misses=1, parses=1)


def test_without_fingerprints_every_load_reads_the_files(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("read_chars is a Linux /proc counter")
    pack = write_pack(tmp_path / "p", count=40)
    size = sum(path.stat().st_size for path in pack.iterdir())
    cache = RegistryCache(fingerprints=False)
    first = cache.load_sync(pack, "p")
    before = read_chars()
    assert cache.load_sync(pack, "p") is first
    assert read_chars() - before >= size


def test_same_size_rewrite_with_a_new_mtime_is_picked_up_by_the_fast_path(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p")
    cache = RegistryCache(settle_ns=0)
    first = cache.load_sync(pack, "p")
    assert cache.load_sync(pack, "p") is first
    path = pack / "c1.toml"
    size = path.stat().st_size
    rewrite_keeping_size(path, '"C1"', '"D1"')
    stamp = path.stat().st_mtime_ns
    os.utime(path, ns=(stamp, stamp + 1_000_000))
    assert path.stat().st_size == size
    second = cache.load_sync(pack, "p")
    assert second is not first
    assert list(second) == ["C0", "D1", "C2"]


def test_same_size_rewrite_with_the_old_mtime_restored_is_picked_up(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p")
    cache = RegistryCache(settle_ns=0)
    first = cache.load_sync(pack, "p")
    path = pack / "c1.toml"
    old = path.stat()
    new_text = path.read_text().replace('"C1"', '"D1"')
    path.write_text(new_text)
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    # Writing moves ctime, which no one can set back; within one tick of the file system's
    # clock it may not have moved yet, so write again until it visibly has.
    while path.stat().st_ctime_ns == old.st_ctime_ns:
        time.sleep(0.002)
        path.write_text(new_text)
        os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (old.st_size, old.st_mtime_ns)
    second = cache.load_sync(pack, "p")
    assert second is not first
    assert list(second) == ["C0", "D1", "C2"]


def test_fresh_files_are_not_trusted_by_stat_alone(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p")
    # With an hour of settle time nothing just written is trusted: every load reads bytes,
    # so a rewrite that keeps size, mtime and (within one clock tick) ctime is still seen.
    cache = RegistryCache(settle_ns=3600 * 10**9)
    first = cache.load_sync(pack, "p")
    path = pack / "c1.toml"
    old = path.stat()
    rewrite_keeping_size(path, '"C1"', '"D1"')
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    second = cache.load_sync(pack, "p")
    assert list(second) == ["C0", "D1", "C2"]
    assert second is not first


def test_a_rewrite_stat_cannot_see_is_read_while_the_files_have_not_settled(
    tmp_path: Path,
) -> None:
    """The settle guard, made deterministic: a write through a shared memory map that is
    already dirty changes a file's bytes and leaves its size, mtime and ctime as they were,
    which is what a rewrite within one tick of the file system's clock looks like to stat.
    Files written within the settle time are not trusted by stat, so the new bytes are seen.
    """
    pack = write_pack(tmp_path / "p")
    path = pack / "c1.toml"
    with open(path, "r+b") as file, mmap.mmap(file.fileno(), 0) as mapped:
        start = mapped.find(b'"C1"')
        mapped[start : start + 4] = b'"C1"'  # dirty the page now: later writes do not fault
        cache = RegistryCache(settle_ns=3600 * 10**9)
        first = cache.load_sync(pack, "p")
        before = path.stat()
        mapped[start : start + 4] = b'"D1"'
        after = path.stat()
        assert (after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino) == (
            before.st_size,
            before.st_mtime_ns,
            before.st_ctime_ns,
            before.st_ino,
        )
        second = cache.load_sync(pack, "p")
    assert list(first) == ["C0", "C1", "C2"]
    assert list(second) == ["C0", "D1", "C2"]


class PackWriter(threading.Thread):
    """Rewrites a pack's first and last file as one set, version after version: ``a.toml``
    then ``z.toml`` get version ``n`` (each replaced whole by a rename), so at any moment the
    folder holds versions ``(n, n - 1)`` or ``(n, n)``."""

    def __init__(self, pack: Path) -> None:
        super().__init__(daemon=True)
        self.pack = pack
        self.stopping = threading.Event()
        self.put("a.toml", "A0")
        self.put("z.toml", "Z0")

    def put(self, file_name: str, name: str) -> None:
        scratch = self.pack / f".{file_name}.new"
        scratch.write_text(character_toml(name))
        os.rename(scratch, self.pack / file_name)

    def run(self) -> None:
        for version in itertools.count(1):
            if self.stopping.is_set():
                return
            self.put("a.toml", f"A{version}")
            self.put("z.toml", f"Z{version}")

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        assert not self.is_alive()


def test_a_pack_rewritten_while_it_is_read_never_mixes_two_versions(tmp_path: Path) -> None:
    pack = tmp_path / "p"
    pack.mkdir()
    # Many files between the two that change together, so a read takes a while.
    for index in range(300):
        (pack / f"m{index:03}.toml").write_text(character_toml(f"M{index:03}"))
    writer = PackWriter(pack)
    cache = RegistryCache()
    outcomes: collections.Counter[str] = collections.Counter()
    writer.start()
    try:
        for _ in range(100):
            try:
                registry = cache.load_sync(pack, "p")
            except PackChangedError:
                outcomes["changed"] += 1
                continue
            first, last = (
                int(registry.characters[0].name[1:]),
                int(registry.characters[-1].name[1:]),
            )
            outcomes["consistent" if first - 1 <= last <= first else "mixed"] += 1
    finally:
        writer.stop()
    assert outcomes["mixed"] == 0, outcomes
    assert outcomes["changed"] > 0, outcomes
    settled = cache.load_sync(pack, "p")
    assert settled.characters[0].name[1:] == settled.characters[-1].name[1:]


# --------------------------------------------------------------------------- cache, async


async def test_fifty_concurrent_loads_parse_once_and_share_the_result(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", count=30)
    cache = RegistryCache()
    results = await asyncio.gather(*(cache.load(pack, "p") for _ in range(50)))
    assert cache.stats.parses == 1
    assert all(result is results[0] for result in results)
    assert cache.stats.hits + cache.stats.misses == 50
    assert list(results[0]) == [f"C{i}" for i in sorted(range(30), key=str)]


async def test_loads_started_together_join_one_run_before_it_finishes(tmp_path: Path) -> None:
    """Single flight, made deterministic: the loads join the first one's run as they start,
    on the event loop, before its reading thread has even been started; so there is one
    read and one parse however the threads would have been scheduled."""
    pack = write_pack(tmp_path / "p", count=30)
    cache = RegistryCache()
    loads = [asyncio.create_task(cache.load(pack, "p")) for _ in range(8)]
    await asyncio.sleep(0)
    assert cache.stats == CacheStats(hits=7, misses=0, parses=0)
    results = await asyncio.gather(*loads)
    assert cache.stats == CacheStats(hits=7, misses=1, parses=1)
    assert all(result is results[0] for result in results)


async def test_a_cancelled_waiter_does_not_cancel_the_others(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", count=30)
    cache = RegistryCache()
    tasks = [asyncio.create_task(cache.load(pack, "p")) for _ in range(5)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    tasks[3].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert isinstance(results[3], asyncio.CancelledError)
    survivors = [results[1], results[2], results[4]]
    assert all(isinstance(result, CharacterRegistry) for result in survivors)
    assert survivors[0] is survivors[1] is survivors[2]
    assert cache.stats.parses == 1
    assert await cache.load(pack, "p") is survivors[0]


async def test_async_load_after_a_change_gives_a_new_registry(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p")
    cache = RegistryCache()
    first = await cache.load(pack, "p")
    (pack / "c0.toml").write_text(character_toml("New"))
    second = await cache.load(pack, "p")
    assert second is not first
    assert list(second) == ["New", "C1", "C2"]


async def test_concurrent_loads_of_different_packs_run_separately(tmp_path: Path) -> None:
    cache = RegistryCache()
    one, two = await asyncio.gather(
        cache.load(write_pack(tmp_path / "one"), "one"),
        cache.load(write_pack(tmp_path / "two", count=2), "two"),
    )
    assert (one.pack, len(one), two.pack, len(two)) == ("one", 3, "two", 2)
    assert cache.stats.parses == 2


async def test_async_loads_free_unused_registries(tmp_path: Path) -> None:
    cache = RegistryCache()
    registry = await cache.load(write_pack(tmp_path / "p"), "p")
    assert cache.live_registries() == 1
    del registry
    # Let the loop run the completion callbacks still queued; they hold the result briefly.
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()
    assert cache.live_registries() == 0


async def test_a_load_leaves_the_event_loop_free_while_it_reads_and_parses(
    tmp_path: Path,
) -> None:
    """Other tasks run while a pack loads: the work happens in a worker thread.

    A load done on the loop itself would let no other task run until it returned, so the
    ticker below would count zero steps during it.
    """
    folder = write_pack(tmp_path / "big", count=400)
    cache = RegistryCache(fingerprints=False)
    ticks = 0
    loading = True

    async def ticker() -> None:
        nonlocal ticks
        while loading:
            ticks += 1
            await asyncio.sleep(0)

    running = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started_at = ticks
    registry = await cache.load(folder, "big")
    during = ticks - started_at
    loading = False
    await running
    assert len(registry) == 400
    assert cache.stats.parses == 1
    assert during > 1


def test_a_pack_with_no_valid_character_is_kept_and_not_built_again(tmp_path: Path) -> None:
    """No session ever adopts an empty registry, so the cache itself keeps the last few."""
    pack = tmp_path / "hollow"
    pack.mkdir()
    (pack / "x.toml").write_text("name = 3\n")
    cache = RegistryCache(fingerprints=False)
    assert len(cache.load_sync(pack, "hollow")) == 0
    gc.collect()
    assert len(cache.load_sync(pack, "hollow")) == 0
    assert cache.stats == CacheStats(hits=1, misses=1, parses=1)


def test_only_the_last_empty_registries_are_kept(tmp_path: Path) -> None:
    cache = RegistryCache(fingerprints=False)
    for index in range(RegistryCache.KEEP_EMPTY + 5):
        pack = tmp_path / f"hollow{index}"
        pack.mkdir()
        (pack / "x.toml").write_text(f"name = {index}\n")
        cache.load_sync(pack, "hollow")
    gc.collect()
    assert cache.live_registries() == RegistryCache.KEEP_EMPTY
