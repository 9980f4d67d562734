"""The application's shared state, behind typed ``web.AppKey`` keys.

Four things are shared by every request of one application: the :class:`Settings` it was
created with, the open sessions (:class:`SessionHub`), the packs (:class:`Packs`: the
registry cache and the default pack's registry) and the LLM backend (:class:`LLM`: one
connection pool for every session, or none when no LLM is configured); the last two exist
only between start-up and clean-up. Keeping them here lets the app factory, the WebSocket
handler and the HTTP routes share them without importing one another.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from unmute_server.characters.folders import OpenFolder
from unmute_server.characters.registry import CharacterRegistry, RegistryCache
from unmute_server.conversation.context_window import ContextWindow
from unmute_server.conversation.conversation import NO_LLM_REASON
from unmute_server.conversation.prompt_source import PromptSource
from unmute_server.llm import ChatBackend
from unmute_server.llm.settings import LLMKind
from unmute_server.llm.slots import SlotLimitedBackend
from unmute_server.server import metrics
from unmute_server.server.default_pack import DefaultPackRefresher
from unmute_server.server.metrics import CacheMetrics
from unmute_server.server.settings import Settings
from unmute_server.server.voice_channel import VoiceEngines


class SessionHub:
    """The open session sockets of one application, so shutdown can close every one.

    Its size is what ``--max-sessions`` and ``/v1/health`` count, and what the
    ``unmute_active_sessions`` gauge shows (summed over the applications of the process).
    """

    __slots__ = ("_sockets", "closing_code")

    def __init__(self) -> None:
        #: Each open socket and its connection's transport (to cut it, see :meth:`close_all`).
        self._sockets: dict[web.WebSocketResponse, asyncio.Transport] = {}
        #: The code :meth:`close_all` closes with, once it has been called.
        self.closing_code: int | None = None

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self._sockets[ws] = transport
        metrics.ACTIVE_SESSIONS.inc()

    def discard(self, ws: web.WebSocketResponse) -> bool:
        """Forget ``ws``; ``False`` if it was not (or no longer) counted."""
        if self._sockets.pop(ws, None) is None:
            return False
        metrics.ACTIVE_SESSIONS.dec()
        return True

    async def close_all(self, code: int, message: bytes, wait_seconds: float) -> None:
        """Close every open socket with ``code``; cut the ones not closed within ``wait_seconds``.

        A socket whose close is cut ends with 1006 on the client's side: a client that does
        not answer a close frame, or does not even read far enough to see it, cannot hold
        shutdown up for longer than ``wait_seconds``. Cutting is aborting the transport, not
        cancelling the close: a cancelled close leaves a socket with unsent bytes open (and
        its handler waiting) for as long as the client does not read.
        """
        self.closing_code = code
        if not self._sockets:
            return
        closes = {
            asyncio.ensure_future(ws.close(code=code, message=message)): transport
            for ws, transport in self._sockets.items()
        }
        _done, pending = await asyncio.wait(closes, timeout=wait_seconds)
        for close in pending:
            closes[close].abort()
        if pending:
            # An aborted connection wakes whatever its close waits for (a drain, the
            # client's close frame), so these end at once.
            await asyncio.wait(pending)
        for close in closes:
            if not close.cancelled():
                close.exception()  # retrieved: a failed close is a closed socket anyway


@dataclass(slots=True)
class Packs:
    """The registry cache and the default pack, loaded and checked at start-up, and the packs
    root, held open for the application's life: every pack is opened relative to it.

    ``default`` is the one field that changes: a re-read of the default pack (SIGHUP,
    ``--watch-packs``, see :mod:`unmute_server.server.default_pack`) replaces it, and new
    sessions start with whatever it is when they open.
    """

    root: OpenFolder
    default_name: str
    cache: RegistryCache
    default: CharacterRegistry
    cache_metrics: CacheMetrics


@dataclass(frozen=True, slots=True)
class LLM:
    """The process's chat backend, which LLM it is, and why there is none when there is none.

    ``kind`` is ``embedded``, ``remote`` or ``off`` (:data:`~unmute_server.llm.settings.LLMKind`);
    ``model`` the model's name; ``reason`` is set exactly when ``backend`` is ``None``: the
    message ``response.create`` is refused with (``llm_unavailable``) and ``/v1/health``
    shows. ``slots`` is the backend's queue when it has one, for ``/v1/health``; ``window``
    the context every request is fitted into, when the LLM's context is known.
    """

    backend: ChatBackend | None
    kind: LLMKind = "off"
    model: str | None = None
    reason: str = NO_LLM_REASON
    slots: SlotLimitedBackend | None = None
    window: ContextWindow | None = None


#: No LLM (``--llm off``, or a connection made without an application).
NO_LLM = LLM(None)


SETTINGS = web.AppKey("settings", Settings)
SESSIONS = web.AppKey("sessions", SessionHub)
PACKS = web.AppKey("packs", Packs)
LLM_BACKEND = web.AppKey("llm", LLM)
PROMPT_SOURCE = web.AppKey("prompt_source", PromptSource)
VOICE = web.AppKey("voice", VoiceEngines)
DEFAULT_PACK_REFRESHER = web.AppKey("default_pack_refresher", DefaultPackRefresher)
