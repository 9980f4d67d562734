"""``/v1/realtime``: the WebSocket handler, where the protocol and the characters meet.

One receive loop per socket handles that session's events strictly in arrival order: an
event is answered before the next one is read, so ``reload`` then ``list`` always lists the
new pack and two reloads end on the second. The work that can take time runs through the
shared :class:`RegistryCache`: reading a pack in a worker thread, parsing it in a child process
within a budget, so the event loop and every other session carry on meanwhile. Answers go out
through the connection's :class:`~unmute_server.server.outbox.Outbox`, so a client that stops
reading cannot stall the loop.

Conversation events go to the session's
:class:`~unmute_server.server.conversation_channel.ConversationChannel`, made on the first one. A
response streams from its own task, through the same outbox; the session's system prompt is
handed to the conversation whenever it changes (``session.update``, a reload). A client too
slow for the stream is cut off exactly as one too slow for answers (close 1008), and when the
connection ends any response is stopped and its upstream request closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
import weakref
from typing import Final

from aiohttp import WebSocketError, WSCloseCode, WSMessage, WSMsgType, web

from unmute_server.characters.build_worker import BuildStoppedError
from unmute_server.characters.diagnostics import counted
from unmute_server.characters.pack import (
    PackChangedError,
    PackNameError,
    PackNameProblem,
    resolve_pack,
)
from unmute_server.characters.registry import CharacterRegistry
from unmute_server.characters.suggestions import closest_name
from unmute_server.conversation.conversation import EmitStopped
from unmute_server.protocol.dialect import (
    BETA_HEADER,
    DIALECT_PARAMETER,
    Dialect,
    DialectError,
    frames,
    requested_dialect,
    shown_dialect,
)
from unmute_server.protocol.events import (
    AnyServerEvent,
    CharactersList,
    CharactersListed,
    CharactersReload,
    CharactersReloaded,
    CharacterSummary,
    ConversationItemCreate,
    DiagnosticReport,
    ErrorCode,
    ErrorEvent,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    InvalidEvent,
    PackReport,
    ResolvedSession,
    ResponseCancel,
    ResponseCreate,
    SessionAudio,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    encode,
    error_event,
    new_event_id,
    parse_client_event,
    realtime_session,
)
from unmute_server.protocol.unmute_flavour import UNMUTE_SUBPROTOCOL, UnmuteFlavour
from unmute_server.server import metrics
from unmute_server.server.conversation_channel import ConversationChannel, SpeakerFactory
from unmute_server.server.logs import SESSION_ID
from unmute_server.server.outbox import Outbox
from unmute_server.server.pack_log import log_pack_diagnostics
from unmute_server.server.session import ReloadBudget, Session
from unmute_server.server.settings import Settings
from unmute_server.server.state import (
    LLM,
    LLM_BACKEND,
    NO_LLM,
    PACKS,
    PROMPT_SOURCE,
    SESSIONS,
    SETTINGS,
    VOICE,
    Packs,
    SessionHub,
)
from unmute_server.server.voice_channel import VoiceChannel, VoiceEngines

logger = logging.getLogger(__name__)

#: The WebSocket subprotocol accepted when a client offers it (unmute's frontend does).
SUBPROTOCOLS: Final = (UNMUTE_SUBPROTOCOL,)

#: The handshake's header naming the process (its pid) that serves the session.
WORKER_PID_HEADER: Final = "X-Unmute-Worker-Pid"

#: The name a client may use for the server's default pack, whatever that is called.
DEFAULT_PACK_ALIAS: Final = "default"

NAME_PROBLEM_CODES: Final = {
    PackNameProblem.INVALID_NAME: (ErrorCode.INVALID_DIRECTORY_FORMAT, "refused"),
    PackNameProblem.OUTSIDE_ROOT: (ErrorCode.PACK_OUTSIDE_ROOT, "refused"),
    PackNameProblem.NOT_FOUND: (ErrorCode.DIRECTORY_NOT_FOUND, "not_found"),
}


class ClientTooSlowError(EmitStopped):
    """The connection's outbox is full: the client has stopped reading.

    An :class:`EmitStopped`, so a response streaming to that client stops quietly.
    """


async def realtime(request: web.Request) -> web.WebSocketResponse:
    """Accept one voice session and serve it until either side closes."""
    # Every line logged for this session, by this task and the tasks it starts, and its
    # access line (written in this task once the handler returns) carries this id.
    SESSION_ID.set(secrets.token_hex(4))
    app = request.app
    settings = app[SETTINGS]
    hub = app[SESSIONS]
    try:
        dialect = requested_dialect(
            request.query.get(DIALECT_PARAMETER), request.headers.get(BETA_HEADER)
        )
    except DialectError as refused:
        raise web.HTTPBadRequest(text=str(refused)) from None
    ws = web.WebSocketResponse(
        # aiohttp refuses a message of max_msg_size bytes or more (uncompressed), so one
        # more: --max-message-bytes is the largest message accepted.
        max_msg_size=settings.max_message_bytes + 1,
        heartbeat=settings.heartbeat_seconds,
        protocols=SUBPROTOCOLS,
        compress=settings.ws_compression,
        timeout=settings.close_timeout,
    )
    # Which process took the session, for an operator (or a test) behind several workers.
    ws.headers[WORKER_PID_HEADER] = str(os.getpid())
    await ws.prepare(request)
    # Only unmute's frontend offers the subprotocol and shows nothing else (the OpenAI SDKs
    # offer none unless told to, and the beta one sends its header): it gets the unmute
    # flavour of the beta dialect. A query parameter or the header opts out.
    flavour = None
    if ws.ws_protocol == UNMUTE_SUBPROTOCOL and dialect is None:
        dialect, flavour = Dialect.BETA, UnmuteFlavour()
    transport = request.transport
    if transport is None:  # the client left during the handshake
        return ws
    if len(hub) >= settings.max_sessions:
        await _refuse_over_capacity(ws, settings.max_sessions)
        return ws
    loop = asyncio.get_running_loop()
    packs = app[PACKS]
    session = Session(
        packs.default,
        ReloadBudget(settings.reload_limit, settings.reload_window_seconds, loop.time()),
        prompt_source=app[PROMPT_SOURCE],
    )
    outbox = Outbox(
        ws,
        transport,
        limit=settings.outbox_limit,
        byte_limit=settings.outbox_limit_bytes,
        grace=settings.close_timeout,
    )
    connection = Connection(
        ws,
        session,
        outbox,
        settings,
        packs,
        hub=hub,
        llm=app[LLM_BACKEND],
        voice_engines=app[VOICE],
        dialect=dialect,
        flavour=flavour,
    )
    await connection.serve()
    return ws


def _shorten(text: str | None, limit: int = 64) -> str | None:
    """A client's string cut short for quoting back in a message."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + "..."


def _longer_than(data: object, limit: int) -> bool:
    """Whether a received message's data is over ``limit`` bytes (UTF-8 for text).

    Text is encoded only when its length in characters cannot decide.
    """
    if isinstance(data, bytes):
        return len(data) > limit
    if not isinstance(data, str) or 4 * len(data) <= limit:
        return False
    return len(data) > limit or len(data.encode()) > limit


def _close_code(message: WSMessage, chosen: int | None) -> int | None:
    """The code that ended the session: the first close frame's, not the reply's.

    A ``CLOSE`` message carries the client's code. An ``ERROR`` means aiohttp has already
    closed the socket: with the code of a protocol error (1009 for a message over
    ``max_msg_size``) or 1006 when the peer stopped answering pings. ``CLOSING`` and
    ``CLOSED`` follow a close this server started, whose code the caller knows.
    """
    if message.type is WSMsgType.CLOSE and isinstance(message.data, int):
        return message.data
    if message.type is WSMsgType.ERROR:
        if isinstance(message.data, WebSocketError):
            return message.data.code
        return WSCloseCode.ABNORMAL_CLOSURE
    return chosen


async def _refuse_over_capacity(ws: web.WebSocketResponse, limit: int) -> None:
    """The peer's behaviour when full: an ``error`` event, then close with 1013."""
    event = error_event(
        ErrorCode.TOO_MANY_SESSIONS,
        f"the server has reached its limit of {limit} sessions; try again later",
    )
    with contextlib.suppress(ConnectionError):
        await ws.send_frame(encode(event), WSMsgType.TEXT)
    await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too many sessions")
    metrics.session_closed(WSCloseCode.TRY_AGAIN_LATER)


class Connection:
    """The receive loop and event handlers of one session."""

    __slots__ = (
        "_cutoff",
        "channel",
        "closed_with",
        "dialect",
        "flavour",
        "hub",
        "llm",
        "outbox",
        "packs",
        "session",
        "settings",
        "voice",
        "voice_engines",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        session: Session,
        outbox: Outbox,
        settings: Settings,
        packs: Packs,
        *,
        hub: SessionHub,
        llm: LLM = NO_LLM,
        voice_engines: VoiceEngines | None = None,
        dialect: Dialect | None = None,
        flavour: UnmuteFlavour | None = None,
    ) -> None:
        self.ws = ws
        self.session = session
        self.outbox = outbox
        self.settings = settings
        self.packs = packs
        #: The open sessions this one counts among until it ends or is cut off.
        self.hub = hub
        #: The process's LLM, or why there is none.
        self.llm = llm
        #: The session's conversation, made on its first conversation event.
        self.channel: ConversationChannel | None = None
        #: The process's speech engines; ``None`` refuses audio events.
        self.voice_engines = voice_engines
        #: The session's voice, made on its first audio event or audio setting.
        self.voice: VoiceChannel | None = None
        #: The close code this server chose, when it closed the connection itself.
        self.closed_with: int | None = None
        #: The close of a client found too slow, once one has started.
        self._cutoff: asyncio.Task[None] | None = None
        #: The dialect the client speaks; ``None`` until its first event shows it.
        self.dialect = dialect
        #: unmute's frontend's events, on a connection that negotiated its subprotocol.
        self.flavour = flavour

    async def serve(self) -> None:
        """Count among the open sessions, run the receive loop, then clean up after it."""
        outbox = self.outbox
        self.hub.add(self.ws, outbox.transport)
        try:
            self._send_frame(encode(SessionCreated(session=realtime_session(self._resolved()))))
            await self.run()
        finally:
            # Bookkeeping first and without a pause, so it happens even if cancelled below.
            self.leave()
            try:
                await self.end()
            finally:
                outbox.release()

    async def run(self) -> None:
        """Read and answer events until the connection closes or the client is cut off."""
        ws = self.ws
        # aiohttp measures a decompressed message against max_msg_size with ">" rather
        # than the ">=" it uses for the others: one byte more gets through, checked here.
        limit = self.settings.max_message_bytes if ws.compress else None
        try:
            while True:
                try:
                    message = await ws.receive()
                except ConnectionError:
                    # Lost while answering a ping (a flood, then a reset): an ordinary end.
                    logger.debug("peer lost while answering a ping", exc_info=True)
                    self.closed_with = self.closed_with or WSCloseCode.ABNORMAL_CLOSURE
                    return
                if limit is not None and _longer_than(message.data, limit):
                    self.closed_with = WSCloseCode.MESSAGE_TOO_BIG
                    await ws.close(code=WSCloseCode.MESSAGE_TOO_BIG, message=b"message too big")
                    return
                if message.type is WSMsgType.TEXT:
                    await self._on_text(message.data)
                elif message.type is WSMsgType.BINARY:
                    metrics.event_received(None)
                    self._send(
                        error_event(
                            ErrorCode.INVALID_EVENT,
                            "binary frames are not supported; send events as JSON text frames",
                        )
                    )
                else:
                    self.closed_with = _close_code(message, self.closed_with)
                    return
        except ClientTooSlowError:
            await asyncio.wait((self._cut_off(),))

    def leave(self) -> None:
        """Give up this session's place among the open ones (and count its close), once.

        Called when the connection ends, and at once when the client is cut off as too slow:
        its close may take up to ``--close-timeout`` seconds, but it no longer counts
        against ``--max-sessions`` or in ``/v1/health``.
        """
        if self.hub.discard(self.ws):
            metrics.session_closed(self.closed_with or self.hub.closing_code or self.ws.close_code)

    async def end(self) -> None:
        """After the receive loop: stop any response (closing its upstream request) and let
        a too-slow client's close finish, so the connection leaves no task behind."""
        voice = self.voice
        if voice is not None:
            self.voice = None
            await voice.aclose()
        channel = self.channel
        if channel is not None:
            self.channel = None
            await channel.aclose()
        if self._cutoff is not None:
            await asyncio.wait((self._cutoff,))

    def _send(self, event: AnyServerEvent) -> None:
        flavour = self.flavour
        if flavour is not None:
            for shown in flavour.events(event):
                self._send_frame(encode(shown))
            return
        dialect = self.dialect
        if dialect is None or dialect is Dialect.BETA:
            self._send_frame(encode(event))
        else:
            for frame in frames(event, dialect):
                self._send_frame(frame)

    def _send_frame(self, frame: bytes) -> None:
        if not self.outbox.put(frame):
            self._cut_off()
            raise ClientTooSlowError

    def _cut_off(self) -> asyncio.Task[None]:
        """Close a client that is too far behind, once, whichever task noticed it.

        A task of its own, because a streaming response notices it away from the receive
        loop: the close then wakes the loop, which ends the connection as usual.
        """
        if self._cutoff is None:
            self.closed_with = WSCloseCode.POLICY_VIOLATION
            self.leave()
            self._cutoff = asyncio.get_running_loop().create_task(
                self.outbox.close(WSCloseCode.POLICY_VIOLATION, b"client too slow")
            )
        return self._cutoff

    def _conversation(self) -> ConversationChannel:
        channel = self.channel
        if channel is None:
            channel = ConversationChannel(
                self.llm.backend,
                self._send,
                self.session.system_prompt,
                unavailable_reason=self.llm.reason,
                window=self.llm.window,
            )
            self.channel = channel
        return channel

    def _voice(self) -> VoiceChannel | None:
        """The session's voice, made when first needed; ``None`` on a server without engines."""
        voice = self.voice
        if voice is None and self.voice_engines is not None:
            voice = VoiceChannel(
                self.voice_engines,
                self._send,
                self._conversation,
                self.session,
                max_buffered_seconds=self.settings.voice.max_buffered_seconds,
                default_language=self.settings.language,
            )
            self.voice = voice
        return voice

    def _speaker_factory(self) -> SpeakerFactory | None:
        """Whether a client's ``response.create`` is spoken: once the session has a voice."""
        voice = self.voice
        return voice.speaker_for if voice is not None and voice.speaks else None

    async def _on_audio(
        self, event: InputAudioBufferAppend | InputAudioBufferCommit | InputAudioBufferClear
    ) -> None:
        voice = self._voice()
        if voice is None:
            self._send(
                error_event(
                    ErrorCode.VOICE_UNSUPPORTED,
                    "this server has no speech engines; send text with conversation.item.create",
                    event_id=event.event_id,
                )
            )
        elif isinstance(event, InputAudioBufferAppend):
            voice.append(event)
        elif isinstance(event, InputAudioBufferCommit):
            await voice.commit(event)
        else:
            await voice.clear(event)

    async def _on_text(self, data: str) -> None:
        try:
            event = parse_client_event(data)
        except InvalidEvent as invalid:
            metrics.event_received(invalid.event_type)
            self._send(
                error_event(
                    invalid.code,
                    invalid.message,
                    event_id=invalid.event_id,
                    param=invalid.param,
                )
            )
            return
        metrics.event_received(event.type)
        if self.dialect is None:
            self.dialect = shown_dialect(event)
        try:
            if isinstance(event, InputAudioBufferAppend):
                voice = self.voice
                if voice is not None:
                    voice.append(event)  # the most frequent event: no more checks than this
                else:
                    await self._on_audio(event)
            elif isinstance(event, CharactersList):
                self._list(event)
            elif isinstance(event, SessionUpdate):
                await self._update(event)
            elif isinstance(event, CharactersReload):
                await self._reload(event)
            elif isinstance(event, ConversationItemCreate):
                self._conversation().add_item(event)
            elif isinstance(event, ResponseCreate):
                await self._conversation().respond(event, speak=self._speaker_factory())
            elif isinstance(event, ResponseCancel):
                await self._conversation().cancel(event)
            else:
                await self._on_audio(event)
        except ClientTooSlowError:
            raise
        except Exception:
            logger.exception("handling %s failed", event.type)
            self._send(
                error_event(
                    ErrorCode.INTERNAL_ERROR,
                    f"the server failed to handle {event.type}; this is a server bug",
                    event_id=event.event_id,
                )
            )

    # ----------------------------------------------------------------------- handlers

    async def _update(self, event: SessionUpdate) -> None:
        config = event.session
        session = self.session
        wanted = config.character
        try:
            session.update(
                voice=wanted,
                instructions=config.instructions,
                allow_recording=config.allow_recording,
            )
        except KeyError:
            # The rest of the update still applies: an OpenAI voice name (``alloy``) sent
            # beside instructions must not cost the client its instructions.
            self._send(self._unknown_voice(event, wanted or ""))
            session.update(instructions=config.instructions, allow_recording=config.allow_recording)
        if self.channel is not None:
            self.channel.set_system_prompt(session.system_prompt)
        audio = config.audio_settings(self.voice.audio if self.voice else SessionAudio())
        voice = self.voice if audio == SessionAudio() else self._voice()
        if voice is not None:
            await voice.update(audio)
        self._send(SessionUpdated(session=self._resolved(audio)))

    def _resolved(self, audio: SessionAudio | None = None) -> ResolvedSession:
        """The session as ``session.created`` and ``session.updated`` report it."""
        session = self.session
        if audio is None:
            audio = self.voice.audio if self.voice is not None else SessionAudio()
        return ResolvedSession(
            voice=session.voice,
            instructions=session.system_prompt,
            allow_recording=session.allow_recording,
            pack=session.registry.pack,
            input_audio_format=audio.input_format,
            output_audio_format=audio.output_format,
            turn_detection=audio.turn_detection,
            input_audio_transcription=audio.input_audio_transcription,
        )

    def _unknown_voice(self, event: SessionUpdate, wanted: str) -> ErrorEvent:
        """The ``unknown_character`` error for a voice no character of the pack has."""
        registry = self.session.registry
        param = "session.voice" if event.session.voice is not None else "session.audio.output.voice"
        # A name is at most 64 characters; a longer voice gets no (quadratic) search.
        close = closest_name(wanted, registry) if len(wanted) <= 64 else None
        hint = f"; did you mean {close!r}?" if close is not None else ""
        return error_event(
            ErrorCode.UNKNOWN_CHARACTER,
            f"no character named {_shorten(wanted)!r} in pack {registry.pack!r}, nor one alone "
            f"with that voice path_on_server{hint}; the rest of the update was applied; "
            "session.characters.list shows the names",
            event_id=event.event_id,
            param=param,
        )

    def _list(self, event: CharactersList) -> None:
        # The most frequent event: its answer is the registry's listing, encoded once.
        self._send_frame(listing_frame(self.session.registry))

    async def _reload(self, event: CharactersReload) -> None:
        started = time.perf_counter()
        outcome = "error"
        try:
            outcome = await self._load_and_swap(event)
        finally:
            metrics.RELOAD_DURATION.labels(outcome).observe(time.perf_counter() - started)

    async def _load_and_swap(self, event: CharactersReload) -> str:
        """Answer one reload; returns its outcome (a :data:`metrics.RELOAD_OUTCOMES` value)."""
        session = self.session
        loop = asyncio.get_running_loop()
        if not session.reload_budget.take(loop.time()):
            limit = self.settings.reload_limit
            window = self.settings.reload_window_seconds
            self._send(
                error_event(
                    ErrorCode.RATE_LIMITED,
                    f"at most {limit} reloads per {window:g} seconds; try again later",
                    event_id=event.event_id,
                )
            )
            return "refused"
        requested = event.pack_name
        name = self.packs.default_name if requested == DEFAULT_PACK_ALIAS else requested
        try:
            folder = resolve_pack(self.packs.root, name)
        except PackNameError as refused:
            code, outcome = NAME_PROBLEM_CODES[refused.problem]
            self._send(error_event(code, refused.message, event_id=event.event_id, param="pack"))
            return outcome
        with folder:
            try:
                registry = await self.packs.cache.load(folder, name)
            except BuildStoppedError:
                # The server is shutting down: this session is being closed with 1001.
                return "stopped"
            except PackChangedError:
                self._send(
                    error_event(
                        ErrorCode.PACK_CHANGED_DURING_READ,
                        f"pack {name!r} kept changing while it was read; the session keeps "
                        f"pack {session.registry.pack!r}; try again once it is written",
                        event_id=event.event_id,
                        param="pack",
                    )
                )
                return "changed"
        self.packs.cache_metrics.update()
        metrics.diagnostics_reported(registry.diagnostics)
        log_pack_diagnostics(logger, f"reload of pack {name!r}", registry.diagnostics)
        refusal = _refusal(registry, name, strict=event.strict)
        if refusal is not None:
            code, why, outcome = refusal
            self._send(
                error_event(
                    code,
                    f"{why}; the session keeps pack {session.registry.pack!r}",
                    event_id=event.event_id,
                    details=pack_report(registry),
                )
            )
            return outcome
        replaced_voice = session.adopt(registry)
        if self.channel is not None:
            self.channel.set_system_prompt(session.system_prompt)
        report = pack_report(registry)
        self._send(
            CharactersReloaded(
                pack=report.pack,
                version=report.version,
                loaded_count=report.loaded_count,
                error_count=report.error_count,
                total_files=report.total_files,
                characters=report.characters,
                errors=report.errors,
                voice=session.voice,
                replaced_voice=replaced_voice,
            )
        )
        return "partial" if registry.error_count else "ok"


def _refusal(
    registry: CharacterRegistry, name: str, *, strict: bool
) -> tuple[ErrorCode, str, str] | None:
    """Why a loaded pack is not swapped in (code, reason, reload outcome), or ``None``."""
    if registry.over_budget:
        reason = f"pack {name!r} costs more to load than the server allows"
        return ErrorCode.PACK_TOO_COSTLY, reason, "too_costly"
    if not registry:
        reason = f"pack {name!r} has no valid characters"
        return ErrorCode.NO_VALID_CHARACTERS, reason, "no_valid_characters"
    if strict and registry.error_count:
        reason = f"pack {name!r} has {counted(registry.error_count, 'error')} and strict was asked"
        return ErrorCode.STRICT_REJECTED, reason, "strict_rejected"
    return None


# --------------------------------------------------------------------------- views

#: Protocol views of a registry, built once per registry and freed with it: every session
#: that lists a shared pack reuses the same summaries.
_summaries: weakref.WeakKeyDictionary[CharacterRegistry, list[CharacterSummary]] = (
    weakref.WeakKeyDictionary()
)


def summaries(registry: CharacterRegistry) -> list[CharacterSummary]:
    """``{name, good, comment}`` for every character of ``registry``, in registry order."""
    found = _summaries.get(registry)
    if found is None:
        found = [
            CharacterSummary(name=character.name, good=character.good, comment=character.comment)
            for character in registry.values()
        ]
        _summaries[registry] = found
    return found


def listing(registry: CharacterRegistry, event_id: str) -> CharactersListed:
    """The ``session.characters.listed`` answer for ``registry``."""
    return CharactersListed(
        event_id=event_id,
        pack=registry.pack,
        version=registry.version,
        character_count=len(registry),
        characters=summaries(registry),
    )


#: How every encoded listing starts: ``type`` then ``event_id`` are its first two fields.
_LISTING_HEAD: Final = b'{"type":"session.characters.listed","event_id":"'

#: A registry's encoded listing after its event id, built once per registry and freed with
#: it: a listing differs from the last one only in its id, so sessions that list a shared
#: pack pay for one join instead of building and serializing the same models again.
_listing_tails: weakref.WeakKeyDictionary[CharacterRegistry, bytes] = weakref.WeakKeyDictionary()


def listing_frame(registry: CharacterRegistry) -> bytes:
    """The encoded listing of ``registry`` with a fresh id: the bytes of :func:`listing`."""
    tail = _listing_tails.get(registry)
    if tail is None:
        encoded = encode(listing(registry, ""))
        if not encoded.startswith(_LISTING_HEAD + b'"'):
            raise RuntimeError(f"a listing no longer starts with {_LISTING_HEAD!r}")
        tail = encoded[len(_LISTING_HEAD) :]
        _listing_tails[registry] = tail
    return b"".join((_LISTING_HEAD, new_event_id().encode("ascii"), tail))


def pack_report(registry: CharacterRegistry) -> PackReport:
    """What loading ``registry``'s pack found, with every diagnostic (pack-relative paths)."""
    return PackReport(
        pack=registry.pack,
        version=registry.version,
        loaded_count=registry.loaded_count,
        error_count=registry.error_count,
        total_files=registry.total_files,
        characters=summaries(registry),
        errors=[
            DiagnosticReport(
                path=diagnostic.path,
                line=diagnostic.line,
                col=diagnostic.col,
                code=diagnostic.code,
                severity=diagnostic.severity.value,
                message=diagnostic.message,
            )
            for diagnostic in registry.diagnostics
        ],
    )
