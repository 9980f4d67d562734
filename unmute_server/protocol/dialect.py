"""Which of the two OpenAI Realtime dialects a connection speaks, and its events' bytes.

One connection speaks one dialect, chosen from what the client shows, first that wins:

1. the ``dialect`` query parameter (``?dialect=ga`` or ``?dialect=beta``), for clients that can
   say nothing else;
2. the ``OpenAI-Beta: realtime=v1`` header the official SDK's beta client sends: beta;
3. the first event the client sends: a ``session.update`` whose ``session`` has ``type``
   (``"realtime"``, which GA requires and beta does not have) makes it GA; any other event
   makes it beta.

Beta is the default, so a client that shows nothing (kyutai-labs/unmute's frontend) is served
exactly as before. The ``session.created`` sent on connect, before the client has shown
anything, carries the session in both shapes and validates in both SDKs' unions.
"""

from __future__ import annotations

import enum
from typing import Final

from unmute_server.protocol.events import AnyClientEvent, AnyServerEvent, SessionUpdate, encode
from unmute_server.protocol.ga_events import ga_events

#: The query parameter that names a dialect.
DIALECT_PARAMETER: Final = "dialect"

#: The header the SDK's beta client sends, and the value (one of its items) that means beta.
BETA_HEADER: Final = "OpenAI-Beta"
_BETA_HEADER_VALUE: Final = "realtime=v1"


class Dialect(enum.StrEnum):
    """The OpenAI Realtime API's two event vocabularies."""

    #: ``response.text.delta``, ``conversation.item.created``...: the default.
    BETA = "beta"
    #: ``response.output_text.delta``, ``conversation.item.added``...
    GA = "ga"


class DialectError(ValueError):
    """A ``dialect`` query parameter that names no dialect."""


def requested_dialect(query_value: str | None, beta_header: str | None) -> Dialect | None:
    """The dialect the connection request shows, or ``None`` when it shows none (yet).

    Raises :class:`DialectError` for a ``dialect`` parameter that names no dialect.
    """
    if query_value is not None:
        try:
            return Dialect(query_value)
        except ValueError:
            known = ", ".join(repr(dialect.value) for dialect in Dialect)
            shown = query_value if len(query_value) <= 32 else query_value[:32] + "..."
            raise DialectError(
                f"query parameter {DIALECT_PARAMETER!r} is {shown!r}; it must be one of {known}"
            ) from None
    if beta_header is not None and _BETA_HEADER_VALUE in (
        item.strip() for item in beta_header.split(",")
    ):
        return Dialect.BETA
    return None


def frames(event: AnyServerEvent, dialect: Dialect) -> tuple[bytes, ...]:
    """The text frames that carry ``event`` to a client speaking ``dialect``."""
    if dialect is Dialect.BETA:
        return (encode(event),)
    return tuple(
        ga_event.__pydantic_serializer__.to_json(ga_event) for ga_event in ga_events(event)
    )


def shown_dialect(first_event: AnyClientEvent) -> Dialect:
    """The dialect a client's first event shows, when the request showed none."""
    if isinstance(first_event, SessionUpdate) and first_event.session.type is not None:
        return Dialect.GA
    return Dialect.BETA
