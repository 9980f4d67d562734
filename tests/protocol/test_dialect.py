"""Choosing a connection's dialect, and the GA form of every beta event (pure functions)."""

from __future__ import annotations

import json
from typing import Any

import openai.types.beta.realtime as beta_types
import openai.types.realtime as ga_types
import pytest
from pydantic import TypeAdapter

from unmute_server.protocol.dialect import (
    Dialect,
    DialectError,
    frames,
    requested_dialect,
    shown_dialect,
)
from unmute_server.protocol.events import (
    AudioContentPart,
    ContentPart,
    ConversationItem,
    ConversationItemCreated,
    ResolvedSession,
    Response,
    ResponseDone,
    ResponseOutputItemDone,
    ResponseTextDelta,
    SessionCreated,
    SessionUpdated,
    encode,
    parse_client_event,
    realtime_session,
)

GA_EVENTS: TypeAdapter[Any] = TypeAdapter(ga_types.RealtimeServerEvent)
BETA_EVENTS: TypeAdapter[Any] = TypeAdapter(beta_types.RealtimeServerEvent)

SESSION = ResolvedSession(
    voice="Alice", instructions="You are Alice.", allow_recording=False, pack="p"
)


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, None, None),
        ("ga", None, Dialect.GA),
        ("beta", None, Dialect.BETA),
        (None, "realtime=v1", Dialect.BETA),
        (None, "assistants=v2, realtime=v1", Dialect.BETA),
        ("ga", "realtime=v1", Dialect.GA),  # the query, the client's explicit word, wins
        (None, "assistants=v2", None),
    ],
)
def test_the_request_shows_a_dialect_by_query_then_header(
    query: str | None, header: str | None, expected: Dialect | None
) -> None:
    assert requested_dialect(query, header) is expected


def test_an_unknown_dialect_names_the_parameter_and_the_choices() -> None:
    with pytest.raises(DialectError, match=r"'dialect' is 'v2'; it must be one of 'beta', 'ga'"):
        requested_dialect("v2", None)


def test_the_first_event_shows_ga_only_by_a_session_type() -> None:
    ga = parse_client_event('{"type": "session.update", "session": {"type": "realtime"}}')
    beta = parse_client_event('{"type": "session.update", "session": {"voice": "Alice"}}')
    listing = parse_client_event('{"type": "session.characters.list"}')
    assert shown_dialect(ga) is Dialect.GA
    assert shown_dialect(beta) is Dialect.BETA
    assert shown_dialect(listing) is Dialect.BETA


def test_session_created_is_valid_in_both_sdks_unions() -> None:
    frame = encode(SessionCreated(session=realtime_session(SESSION)))
    ga = GA_EVENTS.validate_json(frame)
    beta = BETA_EVENTS.validate_json(frame)
    assert ga.session.audio.output.voice == "Alice"
    assert beta.session.voice == "Alice"


def test_beta_frames_are_the_events_own_bytes() -> None:
    event = ResponseTextDelta(response_id="resp_1", item_id="item_1", delta="Hi")
    assert frames(event, Dialect.BETA) == (encode(event),)


def test_ga_renames_the_stream_and_keeps_its_ids() -> None:
    event = ResponseTextDelta(response_id="resp_1", item_id="item_1", delta="Hi")
    (frame,) = frames(event, Dialect.GA)
    ga = GA_EVENTS.validate_json(frame)
    assert (ga.type, ga.event_id, ga.delta) == ("response.output_text.delta", event.event_id, "Hi")


def test_ga_reports_a_user_item_added_then_done() -> None:
    item = ConversationItem(
        id="msg_1",
        status="completed",
        role="user",
        content=[ContentPart(type="input_text", text="Hi")],
    )
    added, done = (
        GA_EVENTS.validate_json(frame)
        for frame in frames(ConversationItemCreated(previous_item_id=None, item=item), Dialect.GA)
    )
    assert (added.type, done.type) == ("conversation.item.added", "conversation.item.done")
    assert done.item.content[0].type == "input_text"


def test_ga_names_the_assistants_content_output_text_and_output_audio() -> None:
    item = ConversationItem(
        id="item_1",
        status="completed",
        role="assistant",
        content=[AudioContentPart(type="audio", transcript="Hello.")],
    )
    output_done, item_done = (
        json.loads(frame)
        for frame in frames(ResponseOutputItemDone(response_id="resp_1", item=item), Dialect.GA)
    )
    assert output_done["item"]["content"] == [{"type": "output_audio", "transcript": "Hello."}]
    assert item_done["type"] == "conversation.item.done"
    text_item = item.model_copy(update={"content": [ContentPart(type="text", text="Hello.")]})
    done = ResponseDone(response=Response(id="resp_1", status="completed", output=[text_item]))
    (frame,) = frames(done, Dialect.GA)
    assert GA_EVENTS.validate_json(frame).response.output[0].content[0].type == "output_text"


def test_ga_session_updated_carries_type_and_the_voice_where_ga_reads_it() -> None:
    (frame,) = frames(SessionUpdated(session=SESSION), Dialect.GA)
    updated = GA_EVENTS.validate_json(frame)
    assert updated.session.type == "realtime"
    assert updated.session.audio.output.voice == "Alice"
