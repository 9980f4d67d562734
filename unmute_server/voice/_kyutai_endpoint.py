"""One moshi-server endpoint, as both Kyutai adapters reach it.

The STT and TTS adapters speak different messages over the same kind of connection: a WebSocket
with the ``kyutai-api-key`` header that answers ``Ready`` (or ``Error``) before anything else, an
HTTP ``/api/build_info`` route that says the server is up (what kyutai-labs/unmute's health check
reads), and the same ways to fail. This module holds that part once: connecting, waiting for
``Ready``, reading with an idle bound, sending with a bound, closing at once, probing, and
turning every failure into a :class:`~unmute_server.voice.errors.VoiceEngineError` whose message
names the service but never the URL or the key (both may be secrets; the operator's log gets the
detail, with the key scrubbed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

import aiohttp
from yarl import URL

from unmute_server.voice._kyutai_deadlines import IdleWatchdog, Owed
from unmute_server.voice._kyutai_wire import Ready, ServerError, WireError
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode

logger = logging.getLogger(__name__)

#: The header moshi-server reads the client's key from (its ``authorized_ids``).
API_KEY_HEADER: Final = "kyutai-api-key"
#: How long a probe's answer is reused: health checks may come often, probes cost a request.
PROBE_CACHE_SECONDS: Final = 1.0
#: The longest a close waits for the server's close frame before the connection is dropped.
CLOSE_GRACE_SECONDS: Final = 1.0
#: Close codes with which a server says the key was refused (4001 on moshi-server forks).
_AUTH_CLOSE_CODES: Final = frozenset({1008, 4001, 4003})
_LOGGED_DETAIL_LIMIT: Final = 300

_SCHEMES: Final = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
_HTTP_SCHEMES: Final = {"ws": "http", "wss": "https"}

Message = TypeVar("Message")

__all__ = ["Closed", "IdleWatchdog", "KyutaiEndpoint", "Owed", "websocket_base"]


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection ended; ``code`` is the WebSocket close code when there was one."""

    code: int | None


def websocket_base(url: str) -> URL:
    """The server's base as a ``ws://``/``wss://`` URL (``http(s)://`` accepted, as unmute does).

    Raises ValueError for any other scheme or a URL without a host; the message does not repeat
    the URL, which may hold credentials.
    """
    parsed = URL(url)
    scheme = _SCHEMES.get(parsed.scheme)
    if scheme is None or not parsed.host:
        raise ValueError(
            "a Kyutai server URL must be ws://, wss://, http:// or https:// with a host"
        )
    return parsed.with_scheme(scheme).with_query(None).with_fragment(None)


class KyutaiEndpoint:
    """A moshi-server base URL with its key and timeouts, and one pooled HTTP session."""

    def __init__(
        self,
        url: str,
        *,
        service: str,
        api_key: str | None,
        connect_timeout: float,
        idle_timeout: float,
    ) -> None:
        if connect_timeout <= 0 or idle_timeout <= 0:
            raise ValueError("Kyutai timeouts must be positive numbers of seconds")
        self._base = websocket_base(url)
        self._prefix = self._base.path.rstrip("/")
        self.service = service
        self._api_key = api_key
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._probe_lock = asyncio.Lock()
        self._probe_answer: tuple[float, bool] | None = None

    def __repr__(self) -> str:
        # Never the URL or the key: reprs end up in logs and tracebacks.
        return f"KyutaiEndpoint(service={self.service!r})"

    # ----------------------------------------------------------------------- errors

    def error(self, code: VoiceErrorCode, what: str) -> VoiceEngineError:
        """``the Kyutai <service> server <what>``, with ``code``."""
        return VoiceEngineError(code, f"the Kyutai {self.service} server {what}")

    def closed_error(self, code: int | None, when: str) -> VoiceEngineError:
        """The server closed the connection ``when`` it still owed an answer."""
        if code in _AUTH_CLOSE_CODES:
            return self.error(VoiceErrorCode.REJECTED, "refused the API key")
        return self.error(VoiceErrorCode.UNAVAILABLE, f"closed the connection {when}")

    def log(self, stage: str, detail: object) -> None:
        """Server-side detail for the operator, without the key, bounded in size."""
        text = str(detail)
        if self._api_key:
            text = text.replace(self._api_key, "[api key]")
        if len(text) > _LOGGED_DETAIL_LIMIT:
            text = text[:_LOGGED_DETAIL_LIMIT] + "..."
        logger.warning("Kyutai %s %s: %s", self.service, stage, text)

    # ----------------------------------------------------------------------- connections

    def _headers(self) -> dict[str, str]:
        return {API_KEY_HEADER: self._api_key} if self._api_key else {}

    def _http_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise self.error(VoiceErrorCode.UNAVAILABLE, "adapter is closed")
        if self._session is None:
            # Created on first use, inside the running loop; one per process, closed in aclose.
            # No connection limit: every live utterance and answer holds a WebSocket, and
            # aiohttp's default pool of 100 would make the 101st session wait for a free one.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self._session

    def url(self, path: str, query: str = "") -> URL:
        """``path`` under the base URL, with an already escaped ``query`` string."""
        url = self._base.with_path(self._prefix + path, encoded=True)
        if not query:
            return url
        return URL(str(url) + "?" + query, encoded=True)

    async def connect(
        self, path: str, parse: Callable[[bytes], Message], query: str = ""
    ) -> aiohttp.ClientWebSocketResponse:
        """Open a WebSocket at ``path`` and wait for ``Ready``, all within the connect timeout.

        Messages before ``Ready`` are skipped (moshi-server may still flush a previous client's
        last packets, as kyutai-labs/unmute notes). An ``Error`` instead of ``Ready`` is the
        server refusing (at capacity, unknown voice).
        """
        session = self._http_session()
        socket: aiohttp.ClientWebSocketResponse | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                socket = await session.ws_connect(
                    self.url(path, query),
                    headers=self._headers(),
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_GRACE_SECONDS),
                    autoping=True,
                    heartbeat=None,
                )
                await self._await_ready(socket, parse)
        except VoiceEngineError:
            await self.close_socket(socket)
            raise
        except TimeoutError:
            await self.close_socket(socket)
            self.log("connect", "timed out")
            raise self.error(
                VoiceErrorCode.TIMEOUT,
                f"did not answer within {self.connect_timeout:g} s",
            ) from None
        except aiohttp.WSServerHandshakeError as error:
            self.log("connect", f"HTTP {error.status}")
            if error.status in (401, 403):
                raise self.error(
                    VoiceErrorCode.REJECTED, f"refused the API key (HTTP {error.status})"
                ) from None
            raise self.error(
                VoiceErrorCode.REJECTED, f"refused the connection (HTTP {error.status})"
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            self.log("connect", f"{type(error).__name__}: {error}")
            raise self.error(VoiceErrorCode.UNAVAILABLE, "cannot be reached") from None
        return socket

    async def _await_ready(
        self, socket: aiohttp.ClientWebSocketResponse, parse: Callable[[bytes], Message]
    ) -> None:
        while True:
            message = await self.receive(socket, parse, wait=None)
            if isinstance(message, Ready):
                return
            if isinstance(message, ServerError):
                self.log("start", message.message)
                raise self.error(
                    VoiceErrorCode.REJECTED, "refused the session (busy or misconfigured)"
                )
            if isinstance(message, Closed):
                raise self.closed_error(message.code, "before it was ready")

    def watch(self, socket: aiohttp.ClientWebSocketResponse, owed: Owed) -> IdleWatchdog:
        """The idle bounds of one connection, for :meth:`receive_owed` and :meth:`send`."""
        return IdleWatchdog(socket, owed, self.idle_timeout)

    async def receive(
        self,
        socket: aiohttp.ClientWebSocketResponse,
        parse: Callable[[bytes], Message],
        wait: float | None,
    ) -> Message | Closed:
        """The next message, parsed; :class:`Closed` when the connection ended.

        Raises TimeoutError after ``wait`` seconds of silence (the connection stays usable)
        and VoiceEngineError for what the server sent but should not have.
        """
        # aiohttp reads 0 as "no timeout"; a deadline already reached is still a short wait.
        frame = await socket.receive(timeout=None if wait is None else max(wait, 0.001))
        return self._message(socket, frame, parse)

    def _message(
        self,
        socket: aiohttp.ClientWebSocketResponse,
        frame: aiohttp.WSMessage,
        parse: Callable[[bytes], Message],
    ) -> Message | Closed:
        if frame.type is aiohttp.WSMsgType.BINARY:
            try:
                return parse(frame.data)
            except WireError as error:
                self.log("read", error)
                raise self.error(
                    VoiceErrorCode.BAD_RESPONSE, "sent a message that is not its protocol"
                ) from None
        if frame.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
        ):
            return Closed(socket.close_code)
        if frame.type is aiohttp.WSMsgType.ERROR:
            self.log("read", frame.data)
            raise self.error(VoiceErrorCode.UNAVAILABLE, "connection failed")
        self.log("read", f"unexpected {frame.type.name} frame")
        raise self.error(VoiceErrorCode.BAD_RESPONSE, "sent a message that is not its protocol")

    async def receive_owed(
        self,
        socket: aiohttp.ClientWebSocketResponse,
        parse: Callable[[bytes], Message],
        watchdog: IdleWatchdog,
    ) -> Message | Closed:
        """The next message; a TIMEOUT error once the server owes an answer and stays silent.

        See :class:`Owed` for when silence counts; ``watchdog`` keeps the bound.
        """
        try:
            if watchdog.overdue():
                # The reader was busy elsewhere past the bound: a message already there is
                # still taken, as a deadline already reached is still a short wait.
                frame = await socket.receive(timeout=0.001)
            else:
                frame = await watchdog.receive(socket)
        except TimeoutError:
            self.log("read", "idle timeout")
            raise self.error(
                VoiceErrorCode.TIMEOUT,
                f"stopped answering for more than {self.idle_timeout:g} s",
            ) from None
        watchdog.owed.received(watchdog.loop.time())
        return self._message(socket, frame, parse)

    async def send(
        self, socket: aiohttp.ClientWebSocketResponse, data: bytes, watchdog: IdleWatchdog
    ) -> None:
        """Send one binary message; a server that stops reading is a timeout, not a hang."""
        try:
            await watchdog.send(socket, data)
        except TimeoutError:
            self.log("send", "timed out")
            raise self.error(
                VoiceErrorCode.TIMEOUT,
                f"stopped reading for more than {self.idle_timeout:g} s",
            ) from None
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as error:
            # aiohttp raises ClientConnectionResetError (or RuntimeError on old versions) when
            # the transport is already closing.
            self.log("send", f"{type(error).__name__}: {error}")
            raise self.error(VoiceErrorCode.UNAVAILABLE, "connection was lost") from None

    async def close_socket(self, socket: aiohttp.ClientWebSocketResponse | None) -> None:
        """Close at once: a close frame, then at most :data:`CLOSE_GRACE_SECONDS` for the reply."""
        if socket is None or socket.closed:
            return
        # Cancelling aiohttp's close drops the connection, so the bound holds even when the
        # server stopped reading and the close frame itself cannot be written.
        with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError, RuntimeError):
            async with asyncio.timeout(CLOSE_GRACE_SECONDS):
                await socket.close()

    # ----------------------------------------------------------------------- health

    async def probe(self) -> bool:
        """Whether ``/api/build_info`` answers 200 within the connect timeout; cached briefly."""
        loop = asyncio.get_running_loop()
        async with self._probe_lock:
            answer = self._probe_answer
            if answer is not None and loop.time() - answer[0] < PROBE_CACHE_SECONDS:
                return answer[1]
            up = await self._probe_once()
            self._probe_answer = (loop.time(), up)
            return up

    async def _probe_once(self) -> bool:
        if self._closed:
            return False
        http = self._base.with_scheme(_HTTP_SCHEMES[self._base.scheme])
        url = http.with_path(self._prefix + "/api/build_info", encoded=True)
        try:
            async with (
                asyncio.timeout(self.connect_timeout),
                self._http_session().get(url, headers=self._headers()) as response,
            ):
                return response.status == 200
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            self.log("probe", f"{type(error).__name__}: {error}")
            return False

    async def aclose(self) -> None:
        """Close the pooled session; later connections fail as UNAVAILABLE, probes say down."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None
