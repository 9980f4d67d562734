"""The conversation events end to end: real server, real WebSocket client, fake LLM on loopback.

Each event is validated against the committed schemas by the ``Realtime`` helper; the LLM is
``tests/fake_llm.py``, an aiohttp server that streams real server-sent events.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.fake_llm import FakeLLM, StreamReply
from tests.server.conftest import DEFAULT_NAMES, Json, MakeServer, Server

pytestmark = pytest.mark.usefixtures("fake_llm")


def types(events: list[Json]) -> list[str]:
    return [event["type"] for event in events]


def streamed_text(events: list[Json]) -> str:
    return "".join(event["delta"] for event in events if event["type"] == "response.text.delta")


@pytest.fixture
async def server(make_llm_server: MakeServer) -> Server:
    return await make_llm_server()


# --------------------------------------------------------------------------- items


async def test_a_user_message_is_created_after_the_previous_item(server: Server) -> None:
    client = await server.connect()
    first = await client.say("Hello?", item_id="msg_1", event_id="c1")
    assert first["type"] == "conversation.item.created"
    assert first["previous_item_id"] is None
    assert first["item"] == {
        "id": "msg_1",
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_text", "text": "Hello?"}],
    }
    second = await client.say("Anyone there?")
    assert second["previous_item_id"] == "msg_1"
    assert second["item"]["id"].startswith("item_")


async def test_fields_the_sdk_adds_to_an_item_are_ignored(server: Server) -> None:
    client = await server.connect()
    created = await client.request(
        {
            "type": "conversation.item.create",
            "previous_item_id": "root",
            "item": {
                "id": "m1",
                "object": "realtime.item",
                "status": "completed",
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "one"},
                    {"type": "input_text", "text": "two"},
                ],
            },
        }
    )
    assert created["type"] == "conversation.item.created"
    assert [part["text"] for part in created["item"]["content"]] == ["one", "two"]


async def test_a_duplicate_item_id_is_refused_and_the_first_item_kept(
    server: Server, fake_llm: FakeLLM
) -> None:
    client = await server.connect()
    await client.say("first", item_id="same")
    error = await client.say("second", item_id="same", event_id="d1")
    assert error["type"] == "error"
    assert error["error"]["code"] == "duplicate_item_id"
    assert error["error"]["param"] == "item.id"
    assert error["error"]["event_id"] == "d1"
    await client.respond()
    assert [message["content"] for message in fake_llm.requests[0].messages] == ["first"]


@pytest.mark.parametrize(
    ("item", "field", "fragment"),
    [
        (
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "input_text", "text": "x"}],
            },
            "item.role",
            "'user', not 'assistant'",
        ),
        (
            {"type": "message", "role": "system", "content": [{"type": "input_text"}]},
            "item.role",
            "'user', not 'system'",
        ),
        (
            {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": ""}]},
            "item.content.0.type",
            "'input_text', not 'input_audio'",
        ),
        (
            {"type": "function_call_output", "role": "user", "content": []},
            "item.type",
            "'message', not 'function_call_output'",
        ),
        ({"type": "message", "role": "user", "content": []}, "item.content", "at least 1"),
    ],
)
async def test_items_other_than_user_text_are_refused_naming_the_field(
    server: Server, item: Json, field: str, fragment: str
) -> None:
    client = await server.connect()
    await client.send_raw(
        json.dumps({"type": "conversation.item.create", "event_id": "x1", "item": item})
    )
    error = await client.receive()
    assert error["error"]["code"] == "invalid_event"
    assert error["error"]["param"] == field
    assert error["error"]["event_id"] == "x1"
    assert fragment in error["error"]["message"]
    assert field in error["error"]["message"]
    assert (await client.say("still here"))["type"] == "conversation.item.created"


# --------------------------------------------------------------------------- responses


async def test_a_response_streams_the_llms_text_in_order(server: Server, fake_llm: FakeLLM) -> None:
    client = await server.connect()
    await client.say("Hi!", item_id="u1")
    events = await client.respond(event_id="r1")
    assert types(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
        "response.text.delta",
        "response.text.delta",
        "response.text.delta",
        "response.text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    created, item_added, item_created, part_added, *deltas = events[:7]
    done_text, part_done, item_done, done = events[7:]
    response_id = created["response"]["id"]
    assert created["response"]["status"] == "in_progress"
    assert created["response"]["output"] == []
    item_id = deltas[0]["item_id"]
    in_progress = {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    assert (item_added["response_id"], item_added["item"]) == (response_id, in_progress)
    assert (item_created["previous_item_id"], item_created["item"]) == ("u1", in_progress)
    assert part_added["part"] == {"type": "text", "text": "", "transcript": None}
    for delta in [part_added, *deltas, done_text, part_done]:
        assert (delta["response_id"], delta["item_id"]) == (response_id, item_id)
        assert (delta["output_index"], delta["content_index"]) == (0, 0)
    assert streamed_text(events) == "Hello there."
    assert done_text["text"] == "Hello there."
    assert part_done["part"] == {"type": "text", "text": "Hello there.", "transcript": None}
    assert done["response"]["id"] == response_id
    assert done["response"]["status"] == "completed"
    assert done["response"]["status_details"] is None
    assert done["response"]["output"] == [item_done["item"]]
    assert done["response"]["output"] == [
        {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "text", "text": "Hello there."}],
        }
    ]
    assert fake_llm.requests[0].messages[-1] == {"role": "user", "content": "Hi!"}
    assert fake_llm.requests[0].body["model"] == "fake-model"
    assert fake_llm.requests[0].body["stream"] is True


async def test_the_next_response_carries_the_history(server: Server, fake_llm: FakeLLM) -> None:
    client = await server.connect()
    await client.say("One")
    await client.respond()
    await client.say("Two")
    await client.respond()
    history = [(m["role"], m["content"]) for m in fake_llm.requests[1].messages]
    assert history == [("user", "One"), ("assistant", "Hello there."), ("user", "Two")]


async def test_the_response_object_the_sdk_may_send_is_ignored(
    server: Server, fake_llm: FakeLLM
) -> None:
    client = await server.connect()
    await client.say("Hi")
    events = await client.respond(
        response={"modalities": ["text"], "instructions": "ignored", "voice": "alloy"}
    )
    assert events[-1]["response"]["status"] == "completed"
    assert "ignored" not in str(fake_llm.requests[0].body)


async def test_one_response_at_a_time(server: Server, fake_llm: FakeLLM) -> None:
    gate = asyncio.Event()
    fake_llm.enqueue(StreamReply(gate=gate))
    client = await server.connect()
    await client.say("Hi")
    await client.send({"type": "response.create"})
    created, *_ = await client.receive_until("response.content_part.added")
    assert created["type"] == "response.created"
    await fake_llm.wait_until(lambda: len(fake_llm.requests) == 1)
    busy = await client.request({"type": "response.create", "event_id": "again"})
    assert busy["type"] == "error"
    assert busy["error"]["code"] == "conversation_already_has_active_response"
    assert busy["error"]["event_id"] == "again"
    assert created["response"]["id"] in busy["error"]["message"]
    gate.set()
    events = await client.receive_until("response.done")
    assert events[-1]["response"]["id"] == created["response"]["id"]
    assert events[-1]["response"]["status"] == "completed"
    assert len(fake_llm.requests) == 1
    assert (await client.respond())[-1]["response"]["status"] == "completed"


async def test_cancel_mid_stream_stops_it_and_closes_the_upstream_request(
    server: Server, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(StreamReply(chunks=["Once upon", " a time"], then="stall"))
    client = await server.connect()
    await client.say("Tell me a story")
    await client.send({"type": "response.create"})
    created, *_ = await client.receive_until("response.content_part.added")
    response_id = created["response"]["id"]
    streamed = await client.receive_until("response.text.delta")
    assert streamed[-1]["delta"] == "Once upon"
    await client.send({"type": "response.cancel", "event_id": "stop", "response_id": response_id})
    events = await client.receive_until("response.done")
    assert streamed_text(streamed + events) == "Once upon a time"
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {
        "type": "cancelled",
        "reason": "client_cancelled",
        "error": None,
    }
    assert done["output"][0]["status"] == "incomplete"
    assert done["output"][0]["content"] == [{"type": "text", "text": "Once upon a time"}]
    assert events[-4] == {**events[-4], "type": "response.text.done", "text": "Once upon a time"}
    assert types(events[-3:-1]) == ["response.content_part.done", "response.output_item.done"]
    assert events[-2]["item"] == done["output"][0]
    await fake_llm.wait_until(lambda: fake_llm.requests[0].disconnected)
    # The session carries on, and the model is told what it had said.
    await client.say("Go on")
    assert (await client.respond())[-1]["response"]["status"] == "completed"
    assert fake_llm.requests[1].messages[-2] == {
        "role": "assistant",
        "content": "Once upon a time",
    }


async def test_a_cancel_with_nothing_in_progress_is_refused_as_openai_does(
    server: Server, fake_llm: FakeLLM
) -> None:
    client = await server.connect()
    error = await client.request({"type": "response.cancel", "event_id": "c0"})
    assert error["error"]["code"] == "response_cancel_not_active"
    assert error["error"]["event_id"] == "c0"
    gate = asyncio.Event()
    fake_llm.enqueue(StreamReply(gate=gate))
    await client.say("Hi")
    await client.send({"type": "response.create"})
    await client.receive_until("response.content_part.added")
    wrong = await client.request({"type": "response.cancel", "response_id": "resp_other"})
    assert wrong["error"]["code"] == "response_cancel_not_active"
    assert wrong["error"]["param"] == "response_id"
    gate.set()
    assert (await client.receive_until("response.done"))[-1]["response"]["status"] == "completed"
    late = await client.request({"type": "response.cancel"})
    assert late["error"]["code"] == "response_cancel_not_active"


async def test_without_an_llm_response_create_is_llm_unavailable(make_server: MakeServer) -> None:
    server = await make_server()
    llm = (await server.get_json("/v1/health"))["llm"]
    assert (llm["kind"], llm["configured"], llm["up"], llm["model"]) == ("off", False, False, None)
    client = await server.connect()
    await client.say("Anyone?")
    error = await client.request({"type": "response.create", "event_id": "r9"})
    assert error["type"] == "error"
    assert error["error"]["code"] == "llm_unavailable"
    assert error["error"]["type"] == "server_error"
    assert error["error"]["event_id"] == "r9"
    # Still a working session: characters, items, and a clear cancel error.
    listed = await client.list()
    assert [item["name"] for item in listed["characters"]] == list(DEFAULT_NAMES)
    assert (await client.say("Hello?"))["type"] == "conversation.item.created"
    cancel = await client.request({"type": "response.cancel"})
    assert cancel["error"]["code"] == "response_cancel_not_active"
