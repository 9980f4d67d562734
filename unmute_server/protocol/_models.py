"""The protocol package's own plumbing: the two model bases and event ids.

Shared by :mod:`.events` and the audio modules beside it, so neither imports the other's
models to get them.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

#: Longest ``event_id`` a client may send (and so the longest this server ever echoes).
MAX_EVENT_ID_LENGTH: Final = 256

EventId = Annotated[str, Field(max_length=MAX_EVENT_ID_LENGTH)]


#: Ten random characters per process, then a counter: ids are unique within a process and
#: practically across processes, without a ``getrandom`` system call for every event sent
#: (an id names an event; it guards nothing, so it need not be unpredictable).
_EVENT_ID_PREFIX: Final = "event_" + secrets.token_urlsafe(8)[:10]
_event_numbers = itertools.count()


def new_event_id() -> str:
    """A fresh server event id: ``event_`` + 21 characters, like the peer's."""
    return f"{_EVENT_ID_PREFIX}{next(_event_numbers):011x}"


class ClientModel(BaseModel):
    """A client event or a part of one: unknown fields ignored, known ones checked strictly."""

    # Strict: "allow_recording": "no" is an error, not a guess (it is a consent flag).
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class ServerModel(BaseModel):
    """A server event or a part of one: exactly the fields it declares, all of them sent."""

    # Serialization schemas list defaulted fields as required: the server always sends them.
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )
