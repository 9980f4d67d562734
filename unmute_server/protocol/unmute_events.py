"""kyutai-labs/unmute's own server events, sent only to its frontend (see :mod:`.unmute_flavour`).

unmute's server (``unmute/openai_realtime_api_events.py``) adds these to the beta dialect; its
frontend (``Unmute.tsx``) reads ``unmute.additional_outputs`` for its debug view and lists the
others among the events it knows. The official SDKs' unions have none of them, so a client
that is not unmute's frontend never receives them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from unmute_server.protocol._models import ServerModel, new_event_id

__all__ = [
    "ChatMessage",
    "UnmuteAdditionalOutputs",
    "UnmuteDebugOutputs",
    "UnmuteInterruptedByVad",
    "UnmuteResponseTextDeltaReady",
]


class ChatMessage(ServerModel):
    """One message of the conversation as unmute's debug view lists it."""

    role: Literal["user", "assistant"]
    content: str


class UnmuteDebugOutputs(ServerModel):
    """What unmute's ``GradioUpdate`` carries: the conversation and a debug dictionary (the
    frontend shows ``debug_dict`` in its developer mode)."""

    chat_history: list[ChatMessage]
    debug_dict: dict[str, str | int | None]
    debug_plot_data: list[dict[str, float]] = Field(default_factory=list)


class UnmuteAdditionalOutputs(ServerModel):
    """The conversation so far and the session's state, after each turn of either side."""

    type: Literal["unmute.additional_outputs"] = "unmute.additional_outputs"
    event_id: str = Field(default_factory=new_event_id)
    args: UnmuteDebugOutputs


class UnmuteResponseTextDeltaReady(ServerModel):
    """The answer's next text as the LLM writes it, before it is spoken (the subtitles,
    ``response.text.delta``, follow the speech)."""

    type: Literal["unmute.response.text.delta.ready"] = "unmute.response.text.delta.ready"
    event_id: str = Field(default_factory=new_event_id)
    delta: str


class UnmuteInterruptedByVad(ServerModel):
    """The person spoke over the answer and it was stopped (barge-in)."""

    type: Literal["unmute.interrupted_by_vad"] = "unmute.interrupted_by_vad"
    event_id: str = Field(default_factory=new_event_id)
