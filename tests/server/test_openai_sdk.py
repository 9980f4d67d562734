"""A third-party client drives a whole text conversation: the official ``openai`` SDK.

``AsyncOpenAI(websocket_base_url="ws://127.0.0.1:PORT/v1").beta.realtime.connect(model=...)``
opens ``/v1/realtime?model=...`` with the ``websockets`` library, sends the SDK's own event
shapes (with the fields it adds) and parses what comes back into its typed models. The beta
client is the one used here; both clients, text and spoken turns, are in
``test_openai_sdk_dialects``.

Every server event is also validated against the SDK's pydantic models (``recv`` alone only
constructs them unchecked), so a field the SDK requires and the server left out fails here.
"""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI
from openai.resources.beta.realtime.realtime import AsyncRealtimeConnection
from openai.types.beta.realtime import ConversationItemContentParam, RealtimeServerEvent
from pydantic import TypeAdapter

from tests.fake_llm import FakeLLM, StreamReply
from tests.server.conftest import MakeServer, Server

SERVER_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)


async def receive(connection: AsyncRealtimeConnection) -> Any:
    """The next event, validated by the SDK's own models."""
    return SERVER_EVENTS.validate_json(await connection.recv_bytes())


async def receive_until(connection: AsyncRealtimeConnection, event_type: str) -> list[Any]:
    events = []
    while True:
        event = await receive(connection)
        events.append(event)
        if event.type == event_type:
            return events


def sdk_client(server: Server) -> AsyncOpenAI:
    port = server.client.port
    return AsyncOpenAI(api_key="x", websocket_base_url=f"ws://127.0.0.1:{port}/v1")


async def test_the_openai_sdk_holds_a_text_conversation_with_a_character(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    fake_llm.default = StreamReply(chunks=["Bonjour", ", I am", " Alice."])
    server = await make_llm_server()
    async with sdk_client(server).beta.realtime.connect(model="unmute") as connection:
        assert (await receive(connection)).type == "session.created"
        await connection.session.update(
            session={
                "voice": "Alice",
                "modalities": ["text"],
                "input_audio_format": "pcm16",
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                "temperature": 0.8,
                "tools": [],
            }
        )
        updated = await receive(connection)
        assert updated.type == "session.updated"
        assert updated.session.voice == "Alice"
        prompt = updated.session.instructions
        assert "You are Alice." in prompt

        await connection.conversation.item.create(
            item={
                "id": "msg_001",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Who are you?"}],
            }
        )
        created = await receive(connection)
        assert created.type == "conversation.item.created"
        assert created.item.id == "msg_001"
        assert created.item.content[0].text == "Who are you?"

        await connection.response.create(response={"modalities": ["text"]})
        events = await receive_until(connection, "response.done")

    assert [event.type for event in events] == [
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
    text = "".join(event.delta for event in events if event.type == "response.text.delta")
    assert text == "Bonjour, I am Alice."
    assert events[-4].text == text
    done = events[-1].response
    assert done.status == "completed"
    assert done.id == events[0].response.id
    assert done.output[0].role == "assistant"
    assert done.output[0].content[0].text == text
    request = fake_llm.requests[0]
    assert request.system_prompt == prompt
    assert request.messages[-1] == {"role": "user", "content": "Who are you?"}


async def test_the_sdk_gets_a_clear_error_for_an_event_the_server_does_not_know(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    server = await make_llm_server()
    async with sdk_client(server).beta.realtime.connect(model="unmute") as connection:
        assert (await receive(connection)).type == "session.created"
        await connection.conversation.item.delete(item_id="msg_001", event_id="delete_1")
        error = await receive(connection)
        assert error.type == "error"
        assert error.error.code == "invalid_event"
        assert error.error.event_id == "delete_1"
        assert "unknown event type 'conversation.item.delete'" in error.error.message
        assert "response.create" in error.error.message  # the known types are listed

        # The connection is still usable: a whole exchange follows.
        hello: ConversationItemContentParam = {"type": "input_text", "text": "Hi"}
        await connection.conversation.item.create(
            item={"type": "message", "role": "user", "content": [hello]}
        )
        assert (await receive(connection)).type == "conversation.item.created"
        await connection.response.create()
        events = await receive_until(connection, "response.done")
        assert events[-1].response.status == "completed"

        # A cancel with nothing to cancel gets OpenAI's own code.
        await connection.response.cancel()
        refused = await receive(connection)
        assert refused.error.code == "response_cancel_not_active"
    assert len(fake_llm.requests) == 1
