"""The embedded speech-to-text: pocketsphinx's en-US model, offline, on the CPU.

Decoding runs in worker processes (:mod:`._sphinx_worker` says why not threads: pocketsphinx
holds the GIL while it decodes). Each worker loads the model once and decodes one utterance at a
time; an utterance keeps its worker from ``start`` to ``finish`` or ``aclose``. Workers are
started on demand up to ``max_workers`` (each holds about 90 MB), kept warm between utterances,
and one spare is started in the background when the last idle one is taken, so a new utterance
rarely waits for a model to load (``load_timeout`` bounds a load). When all are busy, ``start``
waits up to ``busy_timeout`` seconds for one, then fails as unavailable rather than queue without
bound. Workers run ``niceness`` nicer than the server once their model is loaded, so the event
loop wins a busy core.

Warm from the start: the server calls :meth:`warm` once at start-up, so the first session and the
first health probe find a loaded worker. :meth:`probe` checks that the pool has a live worker; it
loads a model only when none is alive (the last one died), and then every probe and ``warm``
waiting meanwhile shares that one load, which a probe's time-out never cancels (a model load
that restarted on every probe would never finish on a busy machine). :attr:`down_reason` says
why the engine is down.

Live words: pocketsphinx revises its live hypothesis as it hears more ("if", "fellow", "if loaf"
in one second), so a word is reported (``on_partial``) only once every hypothesis over the last
:data:`STABLE_SECONDS` of audio agrees on it; see :mod:`unmute_server.voice.transcript_stream`.

English only: the model is en-US. Another language is refused (``unsupported``), never guessed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import deque
from typing import Any, Final

import numpy as np

from unmute_server.voice._subprocess import reap, run_nicer
from unmute_server.voice.audio import Pcm, duration
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.stt import _sphinx_wire as wire
from unmute_server.voice.stt.engine import PartialCallback
from unmute_server.voice.transcript_stream import stable_words

#: ISO 639-1 codes the model speaks.
LANGUAGES: Final = frozenset({"en"})
WORKER_MODULE: Final = "unmute_server.voice.stt._sphinx_worker"
#: How much audio a live word must survive unrevised before it is reported.
STABLE_SECONDS: Final = 0.5

logger = logging.getLogger(__name__)


class EmbeddedSpeechToText:
    """:class:`~unmute_server.voice.stt.engine.SpeechToText` on pocketsphinx worker processes."""

    name = "embedded"

    def __init__(
        self,
        *,
        max_workers: int = 4,
        load_timeout: float = 30.0,
        busy_timeout: float = 5.0,
        answer_timeout: float = 10.0,
        niceness: int = 0,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._load_timeout = load_timeout
        self._busy_timeout = busy_timeout
        self._answer_timeout = answer_timeout
        self._niceness = niceness
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()  # loaded: idle or lent
        self._lent: set[_Worker] = set()  # holding an utterance
        self._changed = asyncio.Condition()
        self._spawning: set[asyncio.Task[None]] = set()
        self._warming: asyncio.Task[None] | None = None
        self._checking: asyncio.Task[bool] | None = None
        self._down_reason: str | None = None
        self._closed = False

    @property
    def busy(self) -> int:
        """Workers holding an utterance now (for tests and metrics)."""
        return len(self._lent)

    @property
    def worker_pids(self) -> frozenset[int]:
        """The worker processes alive now."""
        return frozenset(worker.pid for worker in self._workers)

    async def start(self, language: str, on_partial: PartialCallback) -> _EmbeddedTranscription:
        primary = language.split("-", 1)[0].casefold()
        if primary not in LANGUAGES:
            raise VoiceEngineError(
                VoiceErrorCode.UNSUPPORTED,
                f"the embedded speech-to-text understands English (en) only, not {language!r}; "
                "use the kyutai or openai speech-to-text for other languages",
            )
        worker = await self._acquire()
        try:
            await worker.ask(wire.START, b"", wire.OK, self._answer_timeout)
        except BaseException:
            await self._release(worker)
            raise
        return _EmbeddedTranscription(self, worker, on_partial, self._answer_timeout)

    @property
    def down_reason(self) -> str | None:
        """Why the last warm-up failed (``None`` while the pool is up or never tried)."""
        if self._closed:
            return "the speech-to-text is shut down"
        return None if self._live_workers() else self._down_reason

    async def warm(self) -> None:
        """Have one loaded worker in the pool; never raises (a failure is
        :attr:`down_reason`). Concurrent calls share one load, which cancelling a caller
        does not cancel."""
        if self._closed or self._live_workers():
            return
        if self._warming is None:
            self._warming = asyncio.get_running_loop().create_task(
                self._warm_once(), name="voice stt warm-up"
            )
        await asyncio.shield(self._warming)

    async def probe(self) -> bool:
        """True when a worker of the pool answers (loading one only if none is alive).
        Concurrent probes share one check, which cancelling a probe does not cancel."""
        if self._checking is None:
            self._checking = asyncio.get_running_loop().create_task(
                self._check_once(), name="voice stt probe"
            )
        return await asyncio.shield(self._checking)

    async def _check_once(self) -> bool:
        try:
            if self._idle:
                # An idle worker's process may have died unseen: ask it (a no-op request).
                worker = self._idle.pop()
                self._lent.add(worker)
                with contextlib.suppress(VoiceEngineError):
                    await worker.ask(wire.ABORT, b"", wire.OK, self._answer_timeout)
                await self._release(worker)
            await self.warm()
            return bool(self._live_workers())
        finally:
            self._checking = None

    def _live_workers(self) -> list[_Worker]:
        """The loaded workers whose process still runs; idle ones that died are dropped."""
        dead = [worker for worker in self._idle if not worker.alive]
        for worker in dead:
            self._idle.remove(worker)
            self._workers.discard(worker)
        return [worker for worker in self._workers if worker.alive]

    async def _warm_once(self) -> None:
        try:
            worker = await self._spawn()
        except VoiceEngineError as failed:
            self._down_reason = failed.message
            logger.warning("the embedded speech-to-text is down: %s", failed.message)
            return
        finally:
            self._warming = None
        self._down_reason = None
        async with self._changed:
            self._idle.append(worker)
            self._changed.notify()

    async def aclose(self) -> None:
        self._closed = True
        starting: list[asyncio.Task[Any]] = [*self._spawning]
        starting += [task for task in (self._warming, self._checking) if task is not None]
        for task in starting:
            task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)
        workers = list(self._workers)
        self._workers.clear()
        self._idle.clear()
        self._lent.clear()
        await asyncio.gather(*(worker.stop() for worker in workers))
        async with self._changed:
            self._changed.notify_all()

    async def _acquire(self) -> _Worker:
        if self._closed:
            raise VoiceEngineError(VoiceErrorCode.UNAVAILABLE, "the speech-to-text is shut down")
        if not self._idle and len(self._workers) + len(self._spawning) < self._max_workers:
            worker = await self._spawn()
        else:
            worker = await self._wait_for_idle()
        self._lent.add(worker)
        spare_wanted = not self._idle and not self._spawning
        if spare_wanted and len(self._workers) < self._max_workers:
            task = asyncio.create_task(self._spawn_spare())
            self._spawning.add(task)
            task.add_done_callback(self._spawning.discard)
        return worker

    async def _wait_for_idle(self) -> _Worker:
        async def idle() -> _Worker:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._idle) or self._closed)
            if self._closed:
                raise VoiceEngineError(
                    VoiceErrorCode.UNAVAILABLE, "the speech-to-text is shut down"
                )
            return self._idle.pop()

        try:
            return await asyncio.wait_for(idle(), self._busy_timeout)
        except TimeoutError:
            raise VoiceEngineError(
                VoiceErrorCode.UNAVAILABLE,
                f"all {self._max_workers} embedded speech-to-text workers stayed busy for "
                f"{self._busy_timeout:g} s",
            ) from None

    async def _spawn(self) -> _Worker:
        worker = await _Worker.launch(self._load_timeout, self._niceness)
        if self._closed:
            await worker.stop()
            raise VoiceEngineError(VoiceErrorCode.UNAVAILABLE, "the speech-to-text is shut down")
        self._workers.add(worker)
        return worker

    async def _spawn_spare(self) -> None:
        try:
            worker = await self._spawn()
        except VoiceEngineError:
            return  # the next start() will try again, and report why
        async with self._changed:
            self._idle.append(worker)
            self._changed.notify()

    async def _release(self, worker: _Worker) -> None:
        self._lent.discard(worker)
        if worker.broken or self._closed:
            self._workers.discard(worker)
            await worker.stop()
            return
        async with self._changed:
            self._idle.append(worker)
            self._changed.notify()


class _EmbeddedTranscription:
    """One utterance on one worker; every operation waits for the one before it."""

    def __init__(
        self,
        engine: EmbeddedSpeechToText,
        worker: _Worker,
        on_partial: PartialCallback,
        answer_timeout: float,
    ) -> None:
        self._engine = engine
        self._worker: _Worker | None = worker
        self._on_partial = on_partial
        self._answer_timeout = answer_timeout
        self._lock = asyncio.Lock()
        self._stable: list[str] = []
        # (seconds fed, words): the live hypotheses of the last STABLE_SECONDS, and the one
        # before them.
        self._recent: deque[tuple[float, list[str]]] = deque()
        self._fed_seconds = 0.0

    async def feed(self, pcm: Pcm) -> None:
        async with self._lock:
            if self._worker is None:
                return  # closed or finished: late audio of an abandoned utterance
            samples = np.ascontiguousarray(pcm, dtype="<f4").tobytes()
            self._fed_seconds += duration(pcm)
            hypothesis = await self._ask(wire.FEED, samples, wire.HYPOTHESIS, self._answer_timeout)
            self._heard(hypothesis.decode().split())

    def _heard(self, words: list[str]) -> None:
        """Report the words that became stable with this hypothesis, if any."""
        recent = self._recent
        recent.append((self._fed_seconds, words))
        horizon = self._fed_seconds - STABLE_SECONDS
        while len(recent) > 1 and recent[1][0] <= horizon:
            recent.popleft()
        if recent[0][0] > horizon:
            return  # not yet STABLE_SECONDS of hypotheses
        agreed = stable_words([hypothesis for _, hypothesis in recent])
        if len(agreed) > len(self._stable) and agreed[: len(self._stable)] == self._stable:
            self._stable = agreed
            self._on_partial(" ".join(agreed))

    async def finish(self) -> str:
        async with self._lock:
            if self._worker is None:
                raise VoiceEngineError(VoiceErrorCode.REJECTED, "the transcription is closed")
            # The final pass decodes the whole utterance again: allow for it.
            timeout = self._answer_timeout + self._fed_seconds
            text = await self._ask(wire.FINISH, b"", wire.FINAL, timeout)
            await self._give_back()
            return text.decode()

    async def aclose(self) -> None:
        async with self._lock:
            if self._worker is None:
                return
            with contextlib.suppress(VoiceEngineError):
                await self._ask(wire.ABORT, b"", wire.OK, self._answer_timeout)
            await self._give_back()

    async def _ask(self, kind: bytes, payload: bytes, expected: bytes, within: float) -> bytes:
        worker = self._worker
        if worker is None:
            raise VoiceEngineError(VoiceErrorCode.REJECTED, "the transcription is closed")
        try:
            return await worker.ask(kind, payload, expected, within)
        except VoiceEngineError:
            await self._give_back()
            raise

    async def _give_back(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            await self._engine._release(worker)


class _Worker:
    """One worker process, asked one request at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.pid = process.pid
        self.broken = False

    @property
    def alive(self) -> bool:
        """Usable: not broken and its process has not exited."""
        return not self.broken and self._process.returncode is None

    @classmethod
    async def launch(cls, within: float, niceness: int) -> _Worker:
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                WORKER_MODULE,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as error:
            raise VoiceEngineError(
                VoiceErrorCode.UNAVAILABLE,
                f"cannot start the embedded speech-to-text worker: {error.strerror}",
            ) from None
        worker = cls(process)
        try:
            kind, reason = await asyncio.wait_for(worker._read(), within)
        except TimeoutError:
            await worker.stop()
            raise VoiceEngineError(
                VoiceErrorCode.TIMEOUT,
                f"the embedded speech-to-text worker did not load its model within {within:g} s",
            ) from None
        except (VoiceEngineError, asyncio.CancelledError):
            await worker.stop()
            raise
        if kind == wire.ERROR:
            await worker.stop()
            raise VoiceEngineError(
                VoiceErrorCode.UNAVAILABLE,
                f"the embedded speech-to-text worker cannot load its model: {reason.decode()}",
            )
        if kind != wire.READY:
            await worker.stop()
            raise VoiceEngineError(
                VoiceErrorCode.BAD_RESPONSE, "the speech-to-text worker did not start"
            )
        # Nicer only once the model is loaded: a load (0.3 s) is what a health probe and a
        # session's first turn wait for; the decoding after it is the batch work.
        run_nicer(process, niceness)
        return worker

    async def ask(self, kind: bytes, payload: bytes, expected: bytes, within: float) -> bytes:
        """Send one request and read its answer. Anything but ``expected`` breaks the worker
        (its stream may be out of step), and so does a cancellation half-way."""
        if self.broken:
            raise VoiceEngineError(VoiceErrorCode.UNAVAILABLE, "the speech-to-text worker stopped")
        stdin = self._process.stdin
        if stdin is None:
            raise RuntimeError("the worker was started without a pipe to its input")
        try:
            stdin.write(wire.encode(kind, payload))
            answer_kind, answer = await asyncio.wait_for(self._exchange(stdin), within)
        except TimeoutError:
            self.broken = True
            raise VoiceEngineError(
                VoiceErrorCode.TIMEOUT, f"the embedded speech-to-text took over {within:g} s"
            ) from None
        except BaseException:
            self.broken = True
            raise
        if answer_kind == expected:
            return answer
        if answer_kind == wire.ERROR:
            # The worker dropped the utterance but is in step: it may serve the next one.
            raise VoiceEngineError(
                VoiceErrorCode.REJECTED, f"the embedded speech-to-text failed: {answer.decode()}"
            )
        self.broken = True
        raise VoiceEngineError(
            VoiceErrorCode.BAD_RESPONSE, "the speech-to-text worker answered out of turn"
        )

    async def _exchange(self, stdin: asyncio.StreamWriter) -> tuple[bytes, bytes]:
        try:
            await stdin.drain()
        except ConnectionError:
            raise self._stopped() from None
        return await self._read()

    async def _read(self) -> tuple[bytes, bytes]:
        stdout = self._process.stdout
        if stdout is None:
            raise RuntimeError("the worker was started without a pipe from its output")
        try:
            header = await stdout.readexactly(wire.HEADER.size)
            kind, length = wire.HEADER.unpack(header)
            if length > wire.MAX_ANSWER_BYTES:
                self.broken = True
                raise VoiceEngineError(
                    VoiceErrorCode.BAD_RESPONSE, "the speech-to-text worker's answer is too long"
                )
            return kind, await stdout.readexactly(length)
        except asyncio.IncompleteReadError:
            raise self._stopped() from None

    def _stopped(self) -> VoiceEngineError:
        self.broken = True
        return VoiceEngineError(
            VoiceErrorCode.UNAVAILABLE,
            f"the embedded speech-to-text worker stopped (exit code {self._process.returncode})",
        )

    async def stop(self) -> None:
        """End the process at once and reap it."""
        self.broken = True
        await reap(self._process)
