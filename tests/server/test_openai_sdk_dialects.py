"""Both of the official ``openai`` SDK's realtime clients hold text and spoken conversations.

``client.realtime.connect`` (GA) and ``client.beta.realtime.connect`` (beta) open
``/v1/realtime?model=...`` on a real server on loopback; the spoken turns go through the
embedded speech engines and a fake LLM. Every event the server sends is validated with the
SDK's own union of that dialect (``recv`` alone only constructs models unchecked), so an event
name or a field the SDK does not know fails here.
"""

from __future__ import annotations

import base64
from typing import Any

import openai.types.beta.realtime as beta_types
import openai.types.realtime as ga_types
from openai import AsyncOpenAI
from pydantic import TypeAdapter

from tests.fake_llm import FakeLLM, StreamReply
from tests.server.conftest import FAKE_MODEL, GA_SERVER_SCHEMA, MakeServer, Server
from tests.voice import speech_fixtures
from unmute_server.llm import LLMSettings
from unmute_server.voice.audio import silence
from unmute_server.voice.codec import Pcm16Encoder

GA_EVENTS: TypeAdapter[Any] = TypeAdapter(ga_types.RealtimeServerEvent)
BETA_EVENTS: TypeAdapter[Any] = TypeAdapter(beta_types.RealtimeServerEvent)

ANSWER = ("Of course. ", "One cup of coffee ", "coming right up.")
FIXTURE = "hello_coffee"

#: The answer's lifecycle in each dialect, as the SDK's clients build a transcript from it.
GA_TEXT_TURN = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
]
BETA_TEXT_TURN = [
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


def sdk_client(server: Server) -> AsyncOpenAI:
    port = server.client.port
    return AsyncOpenAI(api_key="x", websocket_base_url=f"ws://127.0.0.1:{port}/v1")


async def llm_server(make_server: MakeServer, fake_llm: FakeLLM) -> Server:
    return await make_server(llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL))


async def receive_until(connection: Any, events: TypeAdapter[Any], event_type: str) -> list[Any]:
    """Every event up to ``event_type``, each validated by the SDK's union of the dialect."""
    received = []
    while True:
        event = events.validate_json(await connection.recv_bytes())
        received.append(event)
        if event.type == event_type:
            return received


def spoken_appends() -> list[str]:
    """The speech fixture then silence, as base64 PCM16 pieces of 8,000 bytes."""
    audio = speech_fixtures.pcm16_bytes(FIXTURE) + Pcm16Encoder().encode(silence(1.5))
    return [
        base64.b64encode(audio[start : start + 8_000]).decode("ascii")
        for start in range(0, len(audio), 8_000)
    ]


def assert_heard_the_words(transcript: str) -> None:
    assert "coffee" in transcript.lower().split(), transcript


def assert_user_item_follows_commit(events: list[Any], item_event: str) -> str:
    """The person's spoken turn is an item: right after ``input_audio_buffer.committed``, an
    ``item_event`` for a user ``input_audio`` item of the same id, after the same previous
    item, its transcript not yet known; the transcription events name that id too.
    Returns the item's id."""
    committed = next(e for e in events if e.type == "input_audio_buffer.committed")
    item = events[events.index(committed) + 1]
    assert item.type == item_event, item
    assert (item.item.id, item.previous_item_id) == (committed.item_id, committed.previous_item_id)
    assert (item.item.role, item.item.type) == ("user", "message")
    assert [(part.type, part.transcript) for part in item.item.content] == [("input_audio", None)]
    transcription = [e for e in events if e.type.startswith("conversation.item.input_audio_")]
    assert transcription
    assert {e.item_id for e in transcription} == {committed.item_id}
    return str(committed.item_id)


# --------------------------------------------------------------------------- GA


async def test_the_ga_client_holds_a_text_conversation_and_every_event_is_ga(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(StreamReply(chunks=ANSWER))
    server = await llm_server(make_server, fake_llm)
    async with sdk_client(server).realtime.connect(model="unmute") as connection:
        created = GA_EVENTS.validate_json(await connection.recv_bytes())
        assert created.type == "session.created"
        assert created.session.type == "realtime"
        await connection.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["text"],
                "audio": {"output": {"voice": "Alice"}},
            }
        )
        updated = (await receive_until(connection, GA_EVENTS, "session.updated"))[-1]
        assert updated.session.type == "realtime"
        assert updated.session.audio.output.voice == "Alice"
        assert "You are Alice." in (updated.session.instructions or "")

        await connection.conversation.item.create(
            item={
                "id": "msg_001",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "A coffee, please."}],
            }
        )
        added, done = await receive_until(connection, GA_EVENTS, "conversation.item.done")
        assert (added.type, added.item.id, done.item.id) == (
            "conversation.item.added",
            "msg_001",
            "msg_001",
        )
        await connection.response.create()
        events = await receive_until(connection, GA_EVENTS, "response.done")

    assert [event.type for event in events] == GA_TEXT_TURN
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "".join(ANSWER)
    item_added = events[2]
    assert item_added.previous_item_id == "msg_001"
    item_done = events[-2].item
    assert item_done.status == "completed"
    assert [(part.type, part.text) for part in item_done.content] == [("output_text", text)]
    assert events[-1].response.output[0].content[0].type == "output_text"
    assert fake_llm.requests[0].messages[-1] == {"role": "user", "content": "A coffee, please."}


async def test_the_ga_client_speaks_and_hears_spoken_answers_as_ga_events(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(StreamReply(chunks=ANSWER))
    server = await llm_server(make_server, fake_llm)
    async with sdk_client(server).realtime.connect(model="unmute") as connection:
        await connection.session.update(
            session={
                "type": "realtime",
                "audio": {
                    "input": {"format": {"type": "audio/pcm", "rate": 24000}},
                    "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "Bob"},
                },
            }
        )
        updated = (await receive_until(connection, GA_EVENTS, "session.updated"))[-1]
        assert updated.session.audio.output.voice == "Bob"
        assert updated.session.audio.input.format.type == "audio/pcm"
        for piece in spoken_appends():
            await connection.input_audio_buffer.append(audio=piece)
        events = await receive_until(connection, GA_EVENTS, "response.done")

    kinds = [event.type for event in events]
    completed = next(e for e in events if e.type.endswith("transcription.completed"))
    assert_heard_the_words(completed.transcript)
    user_item_id = assert_user_item_follows_commit(events, "conversation.item.added")
    # GA reports the person's item done once its transcript is known, after the transcript.
    done = [e for e in events if e.type == "conversation.item.done"]
    user_done = next(e for e in done if e.item.id == user_item_id)
    assert events.index(user_done) > events.index(completed)
    assert (user_done.item.role, user_done.item.content[0].type) == ("user", "input_audio")
    assert user_done.item.content[0].transcript == completed.transcript
    # A GA client's transcript, built as the SDK's users do: each item's text once it is done.
    transcript = [(e.item.role, e.item.content[0].transcript) for e in done if e.item.content]
    assert transcript == [("user", completed.transcript), ("assistant", "".join(ANSWER))]
    answer = kinds[kinds.index("response.created") :]
    for name in (
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
    ):
        assert name in answer, (name, answer)
    audio = b"".join(
        base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
    )
    assert len(audio) > 24_000  # more than half a second of PCM16
    part = next(e for e in events if e.type == "response.content_part.done").part
    assert part.type == "audio"
    assert part.transcript == "".join(ANSWER)
    output = events[-1].response.output[0]
    assert (output.content[0].type, output.content[0].transcript) == (
        "output_audio",
        "".join(ANSWER),
    )


async def test_an_openai_voice_name_is_an_error_naming_it_and_the_instructions_still_apply(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    server = await llm_server(make_server, fake_llm)
    async with sdk_client(server).realtime.connect(model="unmute") as connection:
        await connection.session.update(
            session={
                "type": "realtime",
                "instructions": "Speak like a pirate.",
                "audio": {"output": {"voice": "alloy"}},
            },
            event_id="upd_1",
        )
        error, updated = (await receive_until(connection, GA_EVENTS, "session.updated"))[-2:]
        assert error.type == "error"
        assert error.error.code == "unknown_character"
        assert error.error.param == "session.audio.output.voice"
        assert error.error.event_id == "upd_1"
        assert "'alloy'" in error.error.message
        assert updated.session.instructions == "Speak like a pirate."

        await connection.session.update(
            session={"type": "realtime", "audio": {"output": {"voice": "alice"}}}
        )
        close, _updated = (await receive_until(connection, GA_EVENTS, "session.updated"))[-2:]
        assert "did you mean 'Alice'?" in close.error.message


# --------------------------------------------------------------------------- beta


async def test_the_beta_client_holds_a_text_conversation_with_the_whole_item_lifecycle(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(StreamReply(chunks=ANSWER))
    server = await llm_server(make_server, fake_llm)
    async with sdk_client(server).beta.realtime.connect(model="unmute") as connection:
        created = BETA_EVENTS.validate_json(await connection.recv_bytes())
        assert created.type == "session.created"
        # The header decided beta: a session.type the beta client would never send is ignored.
        await connection.session.update(session={"voice": "Alice", "modalities": ["text"]})
        updated = (await receive_until(connection, BETA_EVENTS, "session.updated"))[-1]
        assert updated.session.voice == "Alice"
        await connection.conversation.item.create(
            item={
                "id": "msg_001",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "A coffee, please."}],
            }
        )
        assert (await receive_until(connection, BETA_EVENTS, "conversation.item.created"))[
            -1
        ].item.id == "msg_001"
        await connection.response.create()
        events = await receive_until(connection, BETA_EVENTS, "response.done")

    assert [event.type for event in events] == BETA_TEXT_TURN
    assert events[2].previous_item_id == "msg_001"
    assert events[-2].item.content[0].text == "".join(ANSWER)


async def test_the_beta_client_speaks_and_hears_spoken_answers_as_beta_events(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(StreamReply(chunks=ANSWER))
    server = await llm_server(make_server, fake_llm)
    async with sdk_client(server).beta.realtime.connect(model="unmute") as connection:
        await connection.session.update(
            session={"voice": "Bob", "input_audio_format": "pcm16", "output_audio_format": "pcm16"}
        )
        await receive_until(connection, BETA_EVENTS, "session.updated")
        for piece in spoken_appends():
            await connection.input_audio_buffer.append(audio=piece)
        events = await receive_until(connection, BETA_EVENTS, "response.done")

    kinds = [event.type for event in events]
    completed = next(e for e in events if e.type.endswith("transcription.completed"))
    assert_heard_the_words(completed.transcript)
    assert assert_user_item_follows_commit(events, "conversation.item.created") == (
        completed.item_id
    )
    answer = kinds[kinds.index("response.created") :]
    for name in (
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
        "response.audio.delta",
        "response.audio_transcript.delta",
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert name in answer, (name, answer)
    output = events[-1].response.output[0]
    assert (output.content[0].type, output.content[0].transcript) == ("audio", "".join(ANSWER))


async def test_a_beta_client_offering_the_realtime_subprotocol_still_gets_plain_beta(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    """The SDKs offer no subprotocol unless told to: one told to is still known by its
    ``OpenAI-Beta`` header, and never gets unmute's flavour (which its union refuses)."""
    fake_llm.enqueue(StreamReply(chunks=ANSWER))
    server = await llm_server(make_server, fake_llm)
    options: Any = {"subprotocols": ["realtime"]}
    client = sdk_client(server)
    async with client.beta.realtime.connect(
        model="unmute", websocket_connection_options=options
    ) as connection:
        await connection.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hi"}],
            }
        )
        await connection.response.create()
        events = await receive_until(connection, BETA_EVENTS, "response.done")

    assert "".join(e.delta for e in events if e.type == "response.text.delta") == "".join(ANSWER)


# --------------------------------------------------------------------------- choosing


async def test_the_query_parameter_chooses_ga_for_a_client_that_shows_nothing_else(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(StreamReply(chunks=ANSWER))
    server = await llm_server(make_server, fake_llm)
    client = await server.connect("/v1/realtime?dialect=ga", schema=GA_SERVER_SCHEMA)
    await client.say("Hi")  # no session.update: the query alone decided
    events = await client.respond()
    assert "response.output_text.delta" in [event["type"] for event in events]
    for event in events:
        GA_EVENTS.validate_python(event)


async def test_an_unknown_dialect_is_refused_before_the_upgrade_naming_the_parameter(
    server: Server,
) -> None:
    response = await server.client.get(
        "/v1/realtime?dialect=v2",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
        },
    )
    assert response.status == 400
    text = await response.text()
    for named in ("'dialect'", "'v2'", "'ga'"):
        assert named in text
