"""Building a registry in a child process, so no pack can hold the event loop or shutdown.

Parsing a character file is pure Python work under the GIL (``ast.parse``, ``tomllib``,
pydantic validation): a worker thread does not free the event loop, and a thread cannot be
stopped. So a cold build runs in a child process of its own, which the operating system
bounds and which can be killed at any moment:

- Children are forked from a ``forkserver`` that has already imported this package, so a
  start costs a fork, not an interpreter start-up.
- A child first confines itself: a CPU-time budget (``ITIMER_PROF``, whose default action
  terminates the process, backed by ``RLIMIT_CPU``), an address-space limit
  (``RLIMIT_AS``) and a lower scheduling priority (``nice``). Then it receives the pack's
  bytes file by file over a pipe, runs the same pure
  :func:`~unmute_server.characters.pack.build_registry` as an in-process load, and sends the
  characters back in batches. The parent unpickles them with an unpickler that only knows
  the character and diagnostic classes, so nothing the child sends can import or run code.
- The parent kills the child past a wall-clock deadline, and every running child when the
  builder is stopped (shutdown). The threads that talk to a child only ever wait on its
  pipe, so a killed child releases them at once.
- A global semaphore bounds how many builds run at once, whatever the number of sessions.

One process per build, rather than a pool, because a process is the unit the kernel can
account and kill: killing a pool's worker breaks the pool for every other build.

This module knows nothing of aiohttp; lint and the other tools build in-process with
:func:`~unmute_server.characters.pack.load_pack` and never start a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import io
import math
import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Final

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.limits import LoadLimits
from unmute_server.characters.model import Character
from unmute_server.characters.pack import (
    FILE_READ_CODES,
    PACK_PATH,
    PackFile,
    PackSnapshot,
    build_registry,
)

MIB: Final = 1024 * 1024

#: The pack-level diagnostic of a build stopped for exceeding its budget.
OVER_BUDGET_CODE: Final = "CHR408"

#: What the forkserver imports once, so each build's fork starts with them loaded. ``__main__``
#: first, as multiprocessing documents, so a child does not re-run the main script each time.
PRELOAD: Final = ("__main__", __name__)

#: Characters per message from the child: small messages, so unpickling them in the parent
#: lets the event loop's thread take the GIL between them.
_BATCH: Final = 32

#: How long to wait for a child that was told to go (or killed) to be reaped.
_REAP_SECONDS: Final = 5.0

#: The exit status of a child that ran out of memory outside a file's parse.
_EXIT_MEMORY: Final = 3

_DONE: Final = "done"
_CHARACTERS: Final = "characters"


class BudgetExceeded(enum.StrEnum):
    """Which bound stopped a build."""

    CPU = "cpu"
    MEMORY = "memory"
    TIME = "time"
    #: The child died without saying why (a signal from outside, the kernel's OOM killer).
    DIED = "died"

    @property
    def repeatable(self) -> bool:
        """Whether the same bytes would exceed it again: CPU time and memory are the pack's
        doing; a deadline missed or a death may be the machine's at that moment."""
        return self in (BudgetExceeded.CPU, BudgetExceeded.MEMORY)


@dataclass(frozen=True, slots=True)
class BuildBudget:
    """What one cold build may cost, and how many may run at once.

    ``wall_seconds`` is derived: three times the CPU budget plus five seconds, so a child
    that waits (a starved machine, a stuck pipe) is killed too, but a busy machine does not
    turn a build within its CPU budget into a failure.
    """

    cpu_seconds: float = 5.0
    memory_bytes: int = 1024 * MIB
    max_concurrent: int = 1

    def __post_init__(self) -> None:
        if not math.isfinite(self.cpu_seconds) or self.cpu_seconds <= 0:
            raise ValueError(f"cpu_seconds must be a positive number, not {self.cpu_seconds}")
        if self.memory_bytes < 1:
            raise ValueError(f"memory_bytes must be at least 1, not {self.memory_bytes}")
        if self.max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, not {self.max_concurrent}")

    @property
    def wall_seconds(self) -> float:
        return 3 * self.cpu_seconds + 5.0


@dataclass(frozen=True, slots=True)
class BuiltPack:
    """What a child built: a registry's contents (the registry itself is made by the parent)."""

    characters: tuple[Character, ...]
    diagnostics: tuple[Diagnostic, ...]
    total_files: int


@dataclass(frozen=True, slots=True)
class OverBudget:
    """A build stopped by one of its bounds; the pack's read diagnostics and a CHR408."""

    exceeded: BudgetExceeded
    diagnostics: tuple[Diagnostic, ...]
    total_files: int


@dataclass(frozen=True, slots=True)
class BuildFinished:
    """One finished build, for the metrics: ``outcome`` is ``built``, ``over_budget`` or
    ``stopped``; ``exceeded`` says which bound when over budget."""

    outcome: str
    exceeded: BudgetExceeded | None
    seconds: float


class BuildStoppedError(Exception):
    """The builder was stopped (the server is shutting down) before this build finished."""


def over_budget(
    snapshot: PackSnapshot, exceeded: BudgetExceeded, budget: BuildBudget
) -> OverBudget:
    """The result of a build stopped by ``exceeded``: what was read, and why nothing loaded."""
    why = {
        BudgetExceeded.CPU: f"took more than its CPU time budget of {budget.cpu_seconds:g} s",
        BudgetExceeded.MEMORY: (
            f"needed more than its memory budget of {budget.memory_bytes // MIB} MiB"
        ),
        BudgetExceeded.TIME: f"took longer than {budget.wall_seconds:g} s",
        BudgetExceeded.DIED: "stopped unexpectedly",
    }[exceeded]
    diagnostic = Diagnostic(
        PACK_PATH,
        0,
        0,
        OVER_BUDGET_CODE,
        f"loading the pack {why}; no character was loaded: make its files fewer or smaller",
    )
    read_failures = {d.path for d in snapshot.diagnostics if d.code in FILE_READ_CODES}
    return OverBudget(
        exceeded,
        (*snapshot.diagnostics, diagnostic),
        len(snapshot.files) + len(read_failures),
    )


# --------------------------------------------------------------------------- the parent


class IsolatedBuilder:
    """Builds registries' contents in child processes, within a :class:`BuildBudget`.

    :meth:`build` is called on an event loop; at most ``budget.max_concurrent`` builds run
    at once and the others wait their turn without holding a thread. :meth:`stop` kills
    every running child and refuses new builds: after it, every :meth:`build` ends promptly
    with :class:`BuildStoppedError`.
    """

    def __init__(
        self,
        budget: BuildBudget | None = None,
        *,
        on_finished: Callable[[BuildFinished], None] | None = None,
    ) -> None:
        self.budget = budget or BuildBudget()
        self._on_finished = on_finished
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(PRELOAD))
        self._slots = asyncio.Semaphore(self.budget.max_concurrent)
        self._lock = threading.Lock()
        self._running: set[BaseProcess] = set()
        self._stopped = False

    @property
    def running(self) -> int:
        """How many child processes are building right now."""
        with self._lock:
            return len(self._running)

    def prepare(self) -> None:
        """Start the forkserver now (it takes an interpreter start-up) rather than on the first
        build. Blocking: call it from a worker thread."""
        multiprocessing.forkserver.ensure_running()

    def stop(self) -> None:
        """Kill every running child and refuse new builds. Idempotent, never blocks."""
        with self._lock:
            self._stopped = True
            running = list(self._running)
        for process in running:
            _kill(process)

    async def build(
        self, snapshot: PackSnapshot, pack_name: str, limits: LoadLimits
    ) -> BuiltPack | OverBudget:
        """Build ``snapshot`` in a child; its contents, or why it was stopped.

        Raises :class:`BuildStoppedError` if the builder is stopped first.
        """
        async with self._slots:
            if self._stopped:
                raise BuildStoppedError
            started = time.perf_counter()
            outcome = "stopped"
            exceeded: BudgetExceeded | None = None
            try:
                result = await self._build_in_child(snapshot, pack_name, limits)
                if isinstance(result, OverBudget):
                    outcome, exceeded = "over_budget", result.exceeded
                else:
                    outcome = "built"
                return result
            finally:
                if self._on_finished is not None:
                    self._on_finished(
                        BuildFinished(outcome, exceeded, time.perf_counter() - started)
                    )

    async def _build_in_child(
        self, snapshot: PackSnapshot, pack_name: str, limits: LoadLimits
    ) -> BuiltPack | OverBudget:
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_child_main,
            args=(child_end, self.budget.cpu_seconds, self.budget.memory_bytes),
            name="unmute-pack-build",
            daemon=True,
        )
        try:
            await asyncio.to_thread(process.start)
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        with self._lock:
            self._running.add(process)
            stopped = self._stopped
        if stopped:
            _kill(process)
        header = pickle.dumps(
            (
                pack_name,
                limits,
                snapshot.content_key,
                snapshot.diagnostics,
                [pack_file.name for pack_file in snapshot.files],
            ),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        # The thread owns ``parent_end`` and closes it: it ends when the child answers or
        # dies, so killing the child is how it is stopped.
        talk = asyncio.ensure_future(
            asyncio.to_thread(_converse, parent_end, header, snapshot.files)
        )
        timed_out = False
        try:
            done, _pending = await asyncio.wait({talk}, timeout=self.budget.wall_seconds)
            if not done:
                timed_out = True
                _kill(process)
            answer = await talk
        except BaseException:
            # Cancelled (the loop is closing): the child must not outlive the wait for it.
            _kill(process)
            raise
        finally:
            await asyncio.to_thread(_reap, process)
            with self._lock:
                self._running.discard(process)
                stopped = self._stopped
        if isinstance(answer, BuiltPack):
            return answer
        if stopped:
            raise BuildStoppedError
        return over_budget(snapshot, _why_it_ended(process, answer, timed_out), self.budget)


def _kill(process: BaseProcess) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        process.kill()


def _reap(process: BaseProcess) -> None:
    """Wait for ``process`` to exit: a child whose pipe is closed exits at once, else kill."""
    process.join(_REAP_SECONDS)
    if process.exitcode is None:
        _kill(process)
        process.join(_REAP_SECONDS)


def _why_it_ended(process: BaseProcess, answer: str | None, timed_out: bool) -> BudgetExceeded:
    if timed_out:
        return BudgetExceeded.TIME
    if answer == BudgetExceeded.MEMORY or process.exitcode == _EXIT_MEMORY:
        return BudgetExceeded.MEMORY
    if process.exitcode in (-signal.SIGPROF, -signal.SIGXCPU):
        return BudgetExceeded.CPU
    return BudgetExceeded.DIED


def _converse(
    connection: Connection, header: bytes, files: Iterable[PackFile]
) -> BuiltPack | str | None:
    """Send the pack, receive what was built; ``None`` if the child ended first.

    Each file goes as its own message, straight from the bytes read: no copy of the whole
    pack is ever made in this process.
    """
    try:
        connection.send_bytes(header)
        for pack_file in files:
            connection.send_bytes(pack_file.data)
        characters: list[Character] = []
        while True:
            message = _ResultUnpickler(io.BytesIO(connection.recv_bytes())).load()
            kind = message[0]
            if kind == _CHARACTERS:
                characters.extend(message[1])
            elif kind == _DONE:
                return BuiltPack(tuple(characters), message[1], message[2])
            else:
                return str(kind)
    except (EOFError, OSError):
        return None
    finally:
        connection.close()


class _ResultUnpickler(pickle.Unpickler):
    """Resolves only the classes a build result is made of, from modules already imported:
    unpickling a child's answer can neither import a module nor reach any other callable."""

    _MODULES: Final = ("unmute_server.characters.model", "unmute_server.characters.diagnostics")

    def find_class(self, module: str, name: str) -> type:
        found = getattr(sys.modules.get(module), name, None) if module in self._MODULES else None
        if not isinstance(found, type):
            raise pickle.UnpicklingError(f"a build result may not hold {module}.{name}")
        return found


# --------------------------------------------------------------------------- the child


def _child_main(connection: Connection, cpu_seconds: float, memory_bytes: int) -> None:
    """The child process: confine, receive, build, answer. Runs no code from the pack."""
    _confine(cpu_seconds, memory_bytes)
    try:
        # From the server that started this process, never from a pack.
        header = connection.recv_bytes()
        pack_name, limits, content_key, read_diagnostics, names = pickle.loads(header)  # noqa: S301
        files = tuple(PackFile(name, connection.recv_bytes()) for name in names)
        snapshot = PackSnapshot(files, read_diagnostics, content_key)
        del files
        registry = build_registry(snapshot, pack_name, limits)
        del snapshot
        characters = registry.characters
        for start in range(0, len(characters), _BATCH):
            _send(connection, (_CHARACTERS, characters[start : start + _BATCH]))
        _send(connection, (_DONE, registry.diagnostics, registry.total_files))
    except MemoryError:
        with contextlib.suppress(BaseException):
            _send(connection, (BudgetExceeded.MEMORY.value,))
        os._exit(_EXIT_MEMORY)
    except (EOFError, OSError):
        return  # the parent went away or gave up on this build
    finally:
        connection.close()


def _send(connection: Connection, message: object) -> None:
    connection.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def _confine(cpu_seconds: float, memory_bytes: int) -> None:
    """Bound this process before it sees a byte of the pack.

    ``ITIMER_PROF`` counts this process's CPU time to the microsecond and, with ``SIGPROF``
    left at its default action, ends the process when it runs out: no Python code needs the
    GIL for that, so a long ``ast.parse`` is stopped too. ``RLIMIT_CPU`` (whole seconds) is
    the kernel's own backstop. ``RLIMIT_AS`` bounds the address space to what the process
    already has plus ``memory_bytes``.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when a build stops
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    hard_cpu = math.ceil(cpu_seconds) + 1
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (hard_cpu, hard_cpu))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + memory_bytes,) * 2)
    with contextlib.suppress(OSError):
        os.nice(10)
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)


def _address_space() -> int:
    """This process's current virtual memory size in bytes (0 where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")
