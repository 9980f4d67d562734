"""Registries and the process-wide cache that shares them.

A :class:`CharacterRegistry` is one pack's characters as loaded: an immutable mapping, so a
session can hold it, a handler can read it from any task, and a reload replaces it whole
(DESIGN 4). Because it is immutable, sessions that loaded the same bytes can share one
object; :class:`RegistryCache` makes sure they do, runs each load once however many ask
at the same moment, and keeps nothing alive that no session still uses.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn

from unmute_server.characters.build_worker import (
    OVER_BUDGET_CODE,
    BuiltPack,
    IsolatedBuilder,
    OverBudget,
)
from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.folders import Identity, OpenFolder
from unmute_server.characters.limits import DEFAULT_LIMITS, LoadLimits
from unmute_server.characters.model import Character
from unmute_server.characters.pack import (
    PackFingerprint,
    PackSnapshot,
    PackSource,
    build_registry,
    pack_fingerprint,
    read_pack,
    read_pack_whole,
)

# --------------------------------------------------------------------------- registry


class CharacterRegistry(Mapping[str, Character]):
    """One pack's characters by name, in file-name order, plus what loading them reported.

    Immutable: there is no mutating method, attributes cannot be set or deleted, and the
    mapping inside is a read-only proxy. Two registries are equal only when they are the
    same object (compare ``content_key`` to compare contents), which is what the cache
    promises for identical bytes. Weak-referenceable, so the cache does not keep it alive.
    """

    __slots__ = (
        "__weakref__",
        "_by_name",
        "characters",
        "content_key",
        "diagnostics",
        "pack",
        "total_files",
        "version",
    )

    pack: str
    content_key: str
    version: str
    diagnostics: tuple[Diagnostic, ...]
    total_files: int
    characters: tuple[Character, ...]
    _by_name: Mapping[str, Character]

    def __init__(
        self,
        *,
        pack: str,
        content_key: str,
        characters: Iterable[Character],
        diagnostics: Iterable[Diagnostic] = (),
        total_files: int | None = None,
    ) -> None:
        ordered = tuple(characters)
        by_name: dict[str, Character] = {}
        for character in ordered:
            if character.name in by_name:
                raise ValueError(f"character name {character.name!r} appears twice")
            by_name[character.name] = character
        init = object.__setattr__
        init(self, "pack", pack)
        init(self, "content_key", content_key)
        init(self, "version", content_key[:12])
        init(self, "characters", ordered)
        init(self, "diagnostics", tuple(diagnostics))
        init(self, "total_files", len(ordered) if total_files is None else total_files)
        init(self, "_by_name", MappingProxyType(by_name))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"CharacterRegistry is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"CharacterRegistry is immutable; cannot delete {name!r}")

    def __getitem__(self, name: str) -> Character:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __copy__(self) -> CharacterRegistry:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> CharacterRegistry:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("CharacterRegistry is not picklable; pickle its characters instead")

    def __repr__(self) -> str:
        return (
            f"<CharacterRegistry pack={self.pack!r} version={self.version} "
            f"characters={len(self)} errors={self.error_count}>"
        )

    @property
    def loaded_count(self) -> int:
        """How many characters loaded (the same as ``len``)."""
        return len(self._by_name)

    @property
    def error_count(self) -> int:
        """How many diagnostics are errors (warnings never block a load)."""
        return sum(1 for diagnostic in self.diagnostics if diagnostic.is_error)

    @property
    def over_budget(self) -> bool:
        """Whether building this pack was stopped by its build budget (CHR408)."""
        return any(diagnostic.code == OVER_BUDGET_CODE for diagnostic in self.diagnostics)

    def first_good(self) -> Character | None:
        """The first character marked ``good``, else the first one: a sensible default."""
        for character in self.characters:
            if character.good:
                return character
        return self.characters[0] if self.characters else None


# --------------------------------------------------------------------------- cache


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of the cache's counters. Every load is one hit or one miss; ``parses``
    counts registries built (a miss whose result another thread built first is a miss but
    its parse is counted too)."""

    hits: int
    misses: int
    parses: int


_CacheKey = tuple[str, str]
#: What a load in flight is known by: the folder (by identity when it is open, else by the
#: path as given) and the pack name.
_FlightKey = tuple[object, str]


@dataclass(frozen=True, slots=True)
class _Remembered:
    fingerprint: PackFingerprint
    content_key: str


#: How long a file must have been left alone before its stat fingerprint is trusted: more
#: than one tick of the kernel's coarse clock (at most 10 ms) on a file system with
#: sub-second timestamps, more than the 2 s granularity of the coarsest (FAT) otherwise.
SETTLE_FINE_NS = 50_000_000
SETTLE_COARSE_NS = 2_000_000_000


class RegistryCache:
    """The process-wide cache: one registry per (pack name, content key), shared by all.

    Registries are held weakly, so a registry no session uses is freed; but the last
    :attr:`KEEP_EMPTY` registries with no character (a broken pack, or one over its build
    budget) are also held strongly, because no session ever adopts one and a failed build
    would otherwise run again on every reload. :meth:`load` gives concurrent loads of one
    pack folder one shared result (single flight): it reads the pack in a worker thread,
    looks its content key up, and on a miss builds the registry with ``builder`` (a child
    process within a CPU, memory and time budget, see
    :mod:`~unmute_server.characters.build_worker`) or, with no builder, in the thread.
    :meth:`load_sync` always builds in the calling thread. A pack folder is read through an
    open descriptor and known by its identity (device, inode), never by a path looked up
    again, and every read is checked against the folder's fingerprint before and after it
    (:func:`~unmute_server.characters.pack.read_pack_whole`), so a registry never mixes two
    versions of a pack's files.

    Fast path: after a load, the cache remembers the pack folder's stat fingerprint (see
    :class:`~unmute_server.characters.pack.PackFingerprint`) with its content key, and a
    later load whose fingerprint is equal skips reading the bytes. It is remembered only if
    every file's ctime was older than the read by the settle time (``settle_ns``; by default
    chosen from the timestamps' granularity), because a file rewritten within one tick of
    the file system's clock could otherwise keep the same stat. After that, any write moves
    ctime, which no user can set back, so a file rewritten with the same size and mtime is
    still seen. A clock stepped backwards, or a network file system whose server clock lags,
    can defeat it: pass ``fingerprints=False`` there to read every file on every load.
    """

    #: How many pack folders' fingerprints are remembered (oldest forgotten first).
    MAX_REMEMBERED = 1024
    #: How many registries with no character are kept alive after their last use.
    KEEP_EMPTY = 64

    def __init__(
        self,
        limits: LoadLimits = DEFAULT_LIMITS,
        *,
        fingerprints: bool = True,
        settle_ns: int | None = None,
        builder: IsolatedBuilder | None = None,
    ) -> None:
        self.limits = limits
        self.builder = builder
        self._settle_ns = settle_ns
        self._use_fingerprints = fingerprints
        self._lock = threading.Lock()
        self._registries: weakref.WeakValueDictionary[_CacheKey, CharacterRegistry] = (
            weakref.WeakValueDictionary()
        )
        self._kept: OrderedDict[_CacheKey, CharacterRegistry] = OrderedDict()
        self._remembered: dict[Identity, _Remembered] = {}
        self._inflight: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[_FlightKey, asyncio.Task[CharacterRegistry]]
        ] = weakref.WeakKeyDictionary()
        self._hits = 0
        self._misses = 0
        self._parses = 0

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, self._parses)

    def live_registries(self) -> int:
        """How many registries are alive (held by someone, or kept by the cache) right now."""
        with self._lock:
            return len(self._registries)

    async def load(self, pack: PackSource, pack_name: str) -> CharacterRegistry:
        """Load a pack off the event loop; concurrent loads of one folder share one run.

        ``pack`` is an open folder (from :func:`~unmute_server.characters.pack.resolve_pack`)
        or a path. A caller that is cancelled stops waiting, but the shared run goes on for
        the others. Raises :class:`~unmute_server.characters.pack.PackChangedError` when the
        folder kept changing while it was read, and
        :class:`~unmute_server.characters.build_worker.BuildStoppedError` when the builder is
        stopped (shutdown) before the registry is built.
        """
        key = _flight_key(pack, pack_name)
        loop = asyncio.get_running_loop()
        inflight = self._inflight.setdefault(loop, {})
        task = inflight.get(key)
        if task is None:
            # The run gets a descriptor of its own, closed when it is done: the caller may
            # stop waiting and close its own while the run goes on.
            own: PackSource = pack.reopen() if isinstance(pack, OpenFolder) else pack
            task = loop.create_task(self._load_owned(own, pack_name))
            inflight[key] = task
            task.add_done_callback(_forget_task(inflight, key))
        else:
            with self._lock:
                self._hits += 1
        return await asyncio.shield(task)

    async def _load_owned(self, pack: PackSource, pack_name: str) -> CharacterRegistry:
        builder = self.builder
        try:
            if builder is None:
                return await asyncio.to_thread(self.load_sync, pack, pack_name)
            read = await asyncio.to_thread(self._read, pack, pack_name)
        finally:
            if isinstance(pack, OpenFolder):
                pack.close()
        if isinstance(read, CharacterRegistry):
            return read
        key = (pack_name, read.content_key)
        registry = self._lookup(key)
        if registry is not None:
            return registry
        built = await builder.build(read, pack_name, self.limits)
        registry = CharacterRegistry(
            pack=pack_name,
            content_key=read.content_key,
            characters=built.characters if isinstance(built, BuiltPack) else (),
            diagnostics=built.diagnostics,
            total_files=built.total_files,
        )
        if isinstance(built, OverBudget) and not built.exceeded.repeatable:
            # Says more about the machine at that moment than about the pack: not cached.
            with self._lock:
                self._parses += 1
            return registry
        return self._store(key, registry)

    def load_sync(self, pack: PackSource, pack_name: str) -> CharacterRegistry:
        """Load a pack in this thread: a hit if its bytes were loaded before.

        An open folder is read through its descriptor (and left open); a path is opened
        once, here. A folder that cannot be opened loads as an empty registry (CHR406).
        """
        read = self._read(pack, pack_name)
        if isinstance(read, CharacterRegistry):
            return read
        key = (pack_name, read.content_key)
        registry = self._lookup(key)
        if registry is not None:
            return registry
        return self._store(key, build_registry(read, pack_name, self.limits))

    def _read(self, pack: PackSource, pack_name: str) -> CharacterRegistry | PackSnapshot:
        """The registry if the folder's fingerprint says it is loaded, else the pack's bytes."""
        if isinstance(pack, OpenFolder):
            return self._read_folder(pack, pack_name)
        try:
            folder = OpenFolder.open(pack)
        except OSError:
            return read_pack(pack, self.limits)
        with folder:
            return self._read_folder(folder, pack_name)

    def _read_folder(self, folder: OpenFolder, pack_name: str) -> CharacterRegistry | PackSnapshot:
        if self._use_fingerprints:
            found = self._remembered_registry(folder, pack_name)
            if found is not None:
                return found
        started_ns = time.time_ns()
        snapshot, fingerprint = read_pack_whole(folder, self.limits)
        if self._use_fingerprints:
            self._remember(folder.identity, fingerprint, snapshot, started_ns)
        return snapshot

    def _remembered_registry(self, folder: OpenFolder, pack_name: str) -> CharacterRegistry | None:
        with self._lock:
            remembered = self._remembered.get(folder.identity)
        if remembered is None:
            return None
        if pack_fingerprint(folder, self.limits) != remembered.fingerprint:
            return None
        with self._lock:
            key = (pack_name, remembered.content_key)
            registry = self._registries.get(key)
            if registry is not None:
                self._hits += 1
                self._touch(key)
        return registry

    def _lookup(self, key: _CacheKey) -> CharacterRegistry | None:
        """The registry for ``key`` if one is alive (a hit), else ``None`` (a miss)."""
        with self._lock:
            registry = self._registries.get(key)
            if registry is not None:
                self._hits += 1
                self._touch(key)
                return registry
            self._misses += 1
            return None

    def _store(self, key: _CacheKey, built: CharacterRegistry) -> CharacterRegistry:
        with self._lock:
            self._parses += 1
            # Another thread may have built the same bytes meanwhile: keep one object.
            registry = self._registries.setdefault(key, built)
            if not registry:
                self._kept[key] = registry
                self._touch(key)
                while len(self._kept) > self.KEEP_EMPTY:
                    self._kept.popitem(last=False)
            return registry

    def _touch(self, key: _CacheKey) -> None:
        """Mark a kept registry as just used (under the lock)."""
        if key in self._kept:
            self._kept.move_to_end(key)

    def _remember(
        self,
        folder: Identity,
        fingerprint: PackFingerprint | None,
        snapshot: PackSnapshot,
        started_ns: int,
    ) -> None:
        settled = fingerprint is not None and (
            fingerprint.newest_change_ns < started_ns - self._settle_for(fingerprint)
        )
        with self._lock:
            self._remembered.pop(folder, None)
            if fingerprint is None or not settled:
                return
            self._remembered[folder] = _Remembered(fingerprint, snapshot.content_key)
            while len(self._remembered) > self.MAX_REMEMBERED:
                del self._remembered[next(iter(self._remembered))]

    def _settle_for(self, fingerprint: PackFingerprint) -> int:
        if self._settle_ns is not None:
            return self._settle_ns
        return SETTLE_COARSE_NS if fingerprint.whole_seconds else SETTLE_FINE_NS


def _flight_key(pack: PackSource, pack_name: str) -> _FlightKey:
    """Open folders by identity, so two names (an alias and its pack) share one run; paths
    by the path as given, to keep file system calls off the event loop."""
    if isinstance(pack, OpenFolder):
        return (pack.identity, pack_name)
    return (os.fspath(pack), pack_name)


def _forget_task(
    inflight: dict[_FlightKey, asyncio.Task[CharacterRegistry]], key: _FlightKey
) -> Any:
    def forget(task: asyncio.Task[CharacterRegistry]) -> None:
        if inflight.get(key) is task:
            del inflight[key]
        # Retrieve the outcome so an error nobody awaited is not logged as "never retrieved";
        # the callers that still wait get it from the task themselves.
        if not task.cancelled():
            task.exception()

    return forget
