"""Re-reading the default pack while the server runs: SIGHUP, gunicorn's HUP, ``--watch-packs``.

A session takes the default pack's registry when it opens and keeps it until it reloads, so
replacing :attr:`Packs.default` changes what new sessions get and nothing else. A re-read that
finds the pack unusable (its folder gone, no valid character, files changing while read) keeps
the registry in use and logs why, as the news file does: a bad edit never costs a running
server its default pack. The re-read goes through the registry cache, so an unchanged pack
costs a ``stat`` per file and an edited one is built in a child process like any reload.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from unmute_server.characters.build_worker import BuildStoppedError
from unmute_server.characters.pack import (
    PackChangedError,
    PackFingerprint,
    PackNameError,
    pack_fingerprint,
    resolve_pack,
)
from unmute_server.characters.registry import CharacterRegistry
from unmute_server.server import metrics
from unmute_server.server.pack_log import log_pack_diagnostics

if TYPE_CHECKING:
    from unmute_server.server.state import Packs

logger = logging.getLogger(__name__)

#: How many of a pack's diagnostics a log line or start-up error quotes.
MAX_QUOTED_DIAGNOSTICS: Final = 20

#: Seconds between two looks at the default pack's files under ``--watch-packs``. A change is
#: re-read once the files have looked the same for one more interval (the debounce), so an
#: editor's save or a copy of several files gives one re-read, not one per file.
WATCH_INTERVAL_SECONDS: Final = 1.0


def quoted_diagnostics(registry: CharacterRegistry) -> str:
    """The first :data:`MAX_QUOTED_DIAGNOSTICS` diagnostics of ``registry``, one a line."""
    return "\n".join(f"  {d}" for d in registry.diagnostics[:MAX_QUOTED_DIAGNOSTICS])


class DefaultPackRefresher:
    """Re-reads the default pack of one application on request, one re-read at a time.

    :meth:`request` may be called from a signal handler as often as signals come: requests
    that arrive during a re-read are served by one more re-read after it, not one each.
    """

    __slots__ = ("_again", "_packs", "_running", "_watcher")

    def __init__(self, packs: Packs) -> None:
        self._packs = packs
        self._again = False
        self._running: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None

    def request(self) -> None:
        """Re-read the default pack soon (now, or after the re-read in progress)."""
        self._again = True
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._serve_requests())

    async def _serve_requests(self) -> None:
        while self._again:
            self._again = False
            try:
                await self.refresh()
            except Exception:
                logger.exception("re-reading the default pack failed")

    async def refresh(self) -> bool:
        """Re-read the default pack now; ``True`` if new sessions get what was read."""
        packs = self._packs
        name = packs.default_name
        kept = packs.default.version
        try:
            folder = resolve_pack(packs.root, name)
        except PackNameError as error:
            logger.error(
                "default pack %r: %s; new sessions keep version %s", name, error.message, kept
            )
            return False
        try:
            with folder:
                registry = await packs.cache.load(folder, name)
        except PackChangedError:
            logger.error(
                "default pack %r kept changing while it was read; new sessions keep version %s",
                name,
                kept,
            )
            return False
        except BuildStoppedError:
            return False  # the server is shutting down
        packs.cache_metrics.update()
        metrics.diagnostics_reported(registry.diagnostics)
        if not registry:
            logger.error(
                "default pack %r has no valid characters; new sessions keep version %s:\n%s",
                name,
                kept,
                quoted_diagnostics(registry),
            )
            return False
        log_pack_diagnostics(logger, f"default pack {name!r} re-read", registry.diagnostics)
        packs.default = registry
        if registry.version == kept:
            logger.info("default pack %r re-read: unchanged (version %s)", name, kept)
        else:
            logger.info(
                "default pack %r re-read: version %s (was %s), %d characters",
                name,
                registry.version,
                kept,
                len(registry),
            )
        return True

    def start_watching(self, interval: float = WATCH_INTERVAL_SECONDS) -> None:
        """Re-read the default pack whenever its files change (``--watch-packs``)."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(interval))

    async def _watch(self, interval: float) -> None:
        seen = await asyncio.to_thread(self._fingerprint)
        while True:
            await asyncio.sleep(interval)
            changed = await asyncio.to_thread(self._fingerprint)
            if changed == seen:
                continue
            while True:  # until the files stop changing
                await asyncio.sleep(interval)
                latest = await asyncio.to_thread(self._fingerprint)
                if latest == changed:
                    break
                changed = latest
            seen = changed
            self.request()

    def _fingerprint(self) -> PackFingerprint | None:
        """What ``stat`` says of the default pack's files now (``None``: not readable)."""
        packs = self._packs
        try:
            folder = resolve_pack(packs.root, packs.default_name)
        except (PackNameError, OSError):
            return None  # a re-read says why, if it comes to one
        with folder:
            return pack_fingerprint(folder, packs.cache.limits)

    async def aclose(self) -> None:
        """Stop watching and wait for (or stop) the re-read in progress."""
        tasks = [task for task in (self._watcher, self._running) if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
