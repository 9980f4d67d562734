"""Run a load test: open the sessions, drive a scenario, collect one :class:`LoadReport`.

Scenarios (``--scenario``):

``mix``
    All sessions connect; then every session lists, picks a voice, makes ``reloads`` reload
    rounds between ``packs`` (reload, list, pick again), sends ``events`` more events
    (mostly lists), and disconnects. With ``duration`` the steady events go on until it is over.
``list``
    All sessions connect, then send ``session.characters.list`` (``events`` each, or until
    ``duration`` is over), usually paced by ``rate``: the steady-state latency figure.
``burst``
    All sessions connect, then in each of ``rounds`` rounds every session sends one list
    at the same moment: the throughput figure.
``idle``
    All sessions connect and list once, then stay connected (for ``hold`` seconds, or until
    the caller's ``release`` returns) so the server's memory per session can be measured.
``cycles``
    ``cycles`` times: connect, reload a pack (alternating through ``packs``; a list when no
    pack is given), disconnect, with ``sessions`` of them in flight at once: the leak figure.

Connections are opened at most ``ramp_batch`` at a time, so a large run does not overflow
the server's listen backlog and measure SYN retries instead of the server.
"""

from __future__ import annotations

import asyncio
import enum
import gc
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

import aiohttp

from unmute_server.loadtest.client import VoiceClient
from unmute_server.loadtest.mix import (
    Action,
    ActionKind,
    plan_session,
    reload_pack,
    steady_action,
)
from unmute_server.loadtest.pacer import Pacer
from unmute_server.loadtest.progress import Progress, ProgressSnapshot
from unmute_server.loadtest.report import LoadReport, RoundResult
from unmute_server.loadtest.stats import Tally
from unmute_server.loadtest.target import check_target


class Scenario(enum.StrEnum):
    MIX = "mix"
    LIST = "list"
    BURST = "burst"
    IDLE = "idle"
    CYCLES = "cycles"


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """One run's parameters (the ``loadtest`` command's flags), validated on creation."""

    url: str
    sessions: int = 10
    scenario: Scenario = Scenario.MIX
    reloads: int = 0
    packs: tuple[str, ...] = ()
    events: int = 5
    duration: float | None = None
    rate: float | None = None
    compression: bool = True
    ramp_batch: int = 100
    rounds: int = 3
    cycles: int = 1000
    hold: float = 0.0
    connect_timeout: float = 30.0
    answer_timeout: float = 30.0
    seed: int = 0
    allow_remote: bool = False

    def __post_init__(self) -> None:
        for name in ("sessions", "ramp_batch", "rounds", "cycles"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("reloads", "events"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be zero or more, not {getattr(self, name)}")
        for name in ("duration", "rate"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be a positive number, not {value}")
        if self.hold < 0:
            raise ValueError(f"hold must be zero or more seconds, not {self.hold}")
        if self.reloads and not self.packs:
            raise ValueError("reloads need at least one pack (--packs a,b)")
        check_target(self.url, allow_remote=self.allow_remote)

    def expected_answers(self) -> int | None:
        """How many answers a clean run gets (``None`` when it runs for a duration)."""
        if self.scenario is Scenario.MIX:
            if self.duration is not None:
                return None
            return self.sessions * (2 + 3 * self.reloads + self.events)
        if self.scenario is Scenario.LIST:
            if self.duration is not None:
                return round(self.rate * self.duration) if self.rate is not None else None
            return self.sessions * self.events
        if self.scenario is Scenario.BURST:
            return self.sessions * self.rounds
        if self.scenario is Scenario.IDLE:
            return self.sessions
        return self.cycles


class _Run:
    """The state one run shares between its sessions."""

    def __init__(
        self,
        config: LoadConfig,
        http: aiohttp.ClientSession,
        on_hold: Callable[[int], None] | None,
        release: Callable[[], Awaitable[None]] | None,
        on_phase: Callable[[str], None] | None,
    ) -> None:
        self.config = config
        self.on_hold = on_hold
        self.release = release
        self.on_phase = on_phase
        self._phase = ""
        self.http = http
        self.tally = Tally()
        self.pacer = Pacer(config.rate) if config.rate is not None else None
        self.ramp = asyncio.Semaphore(config.ramp_batch)
        self.started = time.perf_counter()
        self.phase = "connect"
        self.active_seconds = 0.0
        self.rounds: list[RoundResult] = []
        self.cycles_completed = 0
        self.connected = 0

    @property
    def phase(self) -> str:
        return self._phase

    @phase.setter
    def phase(self, name: str) -> None:
        """Enter phase ``name`` (``connect``, ``events``, ``round-N``, ``hold``, ``close``...)."""
        if name != self._phase:
            self._phase = name
            if self.on_phase is not None:
                self.on_phase(name)

    def rng(self, index: int) -> random.Random:
        # A reproducible mix, not a secret.
        return random.Random(self.config.seed * 1_000_003 + index)  # noqa: S311

    async def connect(self, index: int) -> VoiceClient | None:
        config = self.config
        client = VoiceClient(
            index, self.tally, answer_timeout=config.answer_timeout, pacer=self.pacer
        )
        async with self.ramp:
            ok = await client.connect(
                self.http,
                config.url,
                compression=config.compression,
                within=config.connect_timeout,
            )
        if not ok:
            return None
        self.connected += 1
        return client

    async def connect_all(self) -> list[VoiceClient]:
        """Open every session (ramped), then keep them out of this process's GC.

        With 10,000 sessions the client's heap holds millions of objects, and one full
        collection stalls this loop for a few hundred milliseconds, which would show up
        as server latency. Freezing moves the sessions to the permanent generation until
        the run ends (:func:`run_load` unfreezes), so the client measures the server.
        """
        self.phase = "connect"
        found = await asyncio.gather(*(self.connect(i) for i in range(self.config.sessions)))
        gc.freeze()
        return [client for client in found if client is not None]

    async def close(self, client: VoiceClient) -> None:
        await client.close()
        self.connected -= 1

    async def close_all(self, clients: list[VoiceClient]) -> None:
        self.phase = "close"
        await asyncio.gather(*(self.close(client) for client in clients))

    def snapshot(self) -> ProgressSnapshot:
        return ProgressSnapshot(
            phase=self.phase,
            elapsed=time.perf_counter() - self.started,
            connected=self.connected,
            sessions=self.config.sessions,
            answered=self.tally.total_answered,
            expected=self.config.expected_answers(),
            errors=self.tally.total_errors + sum(self.tally.connect_failures.values()),
        )


# --------------------------------------------------------------------------- scenarios


async def _mix(run: _Run) -> None:
    config = run.config
    clients = await run.connect_all()
    run.phase = "events"
    loop = asyncio.get_running_loop()
    deadline = None if config.duration is None else loop.time() + config.duration

    async def one(client: VoiceClient) -> None:
        rng = run.rng(client.index)
        try:
            events = 0 if deadline is not None else config.events
            plan = plan_session(
                client.index, reloads=config.reloads, packs=config.packs, events=events, rng=rng
            )
            for action in plan:
                if not await client.perform(action):
                    return
            while deadline is not None:
                if not await client.perform(steady_action(rng), deadline=deadline):
                    return
        finally:
            await run.close(client)

    started = time.perf_counter()
    await asyncio.gather(*(one(client) for client in clients))
    run.active_seconds = time.perf_counter() - started
    run.phase = "close"


async def _list(run: _Run) -> None:
    config = run.config
    clients = await run.connect_all()
    loop = asyncio.get_running_loop()
    run.phase = "events"
    deadline = None if config.duration is None else loop.time() + config.duration
    listing = Action(ActionKind.LIST)

    async def one(client: VoiceClient) -> None:
        sent = 0
        while deadline is not None or sent < config.events:
            if not await client.perform(listing, deadline=deadline):
                return
            sent += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(client) for client in clients))
    run.active_seconds = time.perf_counter() - started
    await run.close_all(clients)


async def _burst(run: _Run) -> None:
    clients = await run.connect_all()
    listing = Action(ActionKind.LIST)
    for number in range(run.config.rounds):
        run.phase = f"round-{number + 1}"
        before = run.tally.total_answered
        started = time.perf_counter()
        await asyncio.gather(*(client.perform(listing) for client in clients))
        seconds = time.perf_counter() - started
        run.rounds.append(RoundResult(run.tally.total_answered - before, seconds))
        run.active_seconds += seconds
    await run.close_all(clients)


async def _idle(run: _Run) -> None:
    clients = await run.connect_all()
    run.phase = "list"
    listing = Action(ActionKind.LIST)
    started = time.perf_counter()
    await asyncio.gather(*(client.perform(listing) for client in clients))
    run.active_seconds = time.perf_counter() - started
    run.phase = "hold"
    readers = [asyncio.ensure_future(client.idle()) for client in clients]
    try:
        if run.on_hold is not None:
            run.on_hold(run.connected)
        await _hold(run.config.hold, run.release)
    finally:
        for reader in readers:
            reader.cancel()
        if readers:
            await asyncio.wait(readers)
    await run.close_all(clients)


async def _hold(seconds: float, release: Callable[[], Awaitable[None]] | None) -> None:
    """Wait ``seconds``, or for ``release``; with both, whichever comes first."""
    if release is None:
        await asyncio.sleep(seconds)
        return
    if not seconds:
        await release()
        return
    try:
        async with asyncio.timeout(seconds):
            await release()
    except TimeoutError:
        pass


async def _cycles(run: _Run) -> None:
    config = run.config
    run.phase = "cycles"
    remaining = config.cycles

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            number = config.cycles - remaining - 1
            client = await run.connect(number)
            if client is None:
                continue
            try:
                if config.packs:
                    action = Action(ActionKind.RELOAD, pack=reload_pack(config.packs, number, 0))
                else:
                    action = Action(ActionKind.LIST)
                if await client.perform(action):
                    run.cycles_completed += 1
            finally:
                await run.close(client)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(config.sessions, config.cycles))))
    run.active_seconds = time.perf_counter() - started
    run.phase = "close"


_SCENARIOS = {
    Scenario.MIX: _mix,
    Scenario.LIST: _list,
    Scenario.BURST: _burst,
    Scenario.IDLE: _idle,
    Scenario.CYCLES: _cycles,
}


async def _tick(run: _Run, progress: Progress) -> None:
    while True:
        await asyncio.sleep(progress.interval)
        progress.show(run.snapshot())


async def run_load(
    config: LoadConfig,
    *,
    progress: Progress | None = None,
    on_hold: Callable[[int], None] | None = None,
    release: Callable[[], Awaitable[None]] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> LoadReport:
    """Run ``config`` against its URL and report. Never raises for what the server does.

    ``on_hold`` is called with the number of sessions held when the ``idle`` scenario
    starts holding; ``release`` (awaited) ends the hold early. ``on_phase`` is called with
    each phase's name as it starts (``connect``, then ``events`` or ``round-N`` or
    ``hold`` or ``cycles``, then ``close`` and ``done``), so a caller can sample the
    server exactly around the phase it measures.
    """
    check_target(config.url, allow_remote=config.allow_remote)
    connector = aiohttp.TCPConnector(limit=0, enable_cleanup_closed=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        run = _Run(config, http, on_hold, release, on_phase)
        ticker = asyncio.ensure_future(_tick(run, progress)) if progress is not None else None
        try:
            await _SCENARIOS[config.scenario](run)
        finally:
            gc.unfreeze()
            if ticker is not None:
                ticker.cancel()
                await asyncio.wait((ticker,))
        run.phase = "done"
        if progress is not None:
            progress.finish(run.snapshot())
    settings = asdict(config)
    settings["scenario"] = str(config.scenario)
    return LoadReport.from_tally(
        run.tally,
        scenario=str(config.scenario),
        url=config.url,
        sessions=config.sessions,
        compression=config.compression,
        elapsed_seconds=time.perf_counter() - run.started,
        active_seconds=run.active_seconds,
        rounds=tuple(run.rounds),
        cycles_completed=run.cycles_completed,
        settings=settings,
    )
