"""The character drives the LLM: prompts, failures, disconnects and metrics, end to end.

A real server on loopback talks to ``tests/fake_llm.py`` (real server-sent events over real
HTTP) through the real ``openai`` client; every assertion is on what crossed a socket: the
request the fake LLM recorded, the events the client received, the Prometheus text.
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fake_llm import FakeLLM, RawReply, SilentReply, StatusReply, StreamReply
from tests.server.conftest import (
    FAKE_MODEL,
    Json,
    MakeServer,
    MakeTestServer,
    RawWebSocket,
    Realtime,
    Server,
    character_toml,
    conversation_tasks,
    sample_in,
    until,
    write_pack,
)
from unmute_server.conversation.conversation import Conversation
from unmute_server.llm import ChatMessage, LLMError, LLMErrorCode, LLMSettings
from unmute_server.llm.openai_backend import OpenAICompatibleBackend
from unmute_server.server.state import LLM_BACKEND, SESSIONS


def streamed_text(events: list[Json]) -> str:
    return "".join(event["delta"] for event in events if event["type"] == "response.text.delta")


async def ask(client: Realtime, text: str) -> list[Json]:
    await client.say(text)
    return await client.respond()


# --------------------------------------------------------------------------- system prompts


async def test_the_llm_gets_the_chosen_characters_prompt_and_a_new_one_after_update(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    server = await make_llm_server()
    client = await server.connect()
    alice = (await client.update(voice="Alice"))["session"]["instructions"]
    await ask(client, "Who are you?")
    assert fake_llm.requests[0].system_prompt == alice
    assert "You are Alice." in alice
    bob = (await client.update(voice="Bob"))["session"]["instructions"]
    await ask(client, "And now?")
    assert fake_llm.requests[1].system_prompt == bob
    assert "You are Bob." in bob
    # The history survives the change of character.
    contents = [message["content"] for message in fake_llm.requests[1].messages[1:]]
    assert contents == ["Who are you?", "Hello there.", "And now?"]


async def test_a_prompt_set_before_the_first_conversation_event_is_used(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    server = await make_llm_server()
    client = await server.connect()
    await client.update(instructions="Speak like a pirate.")
    await ask(client, "Ahoy")
    assert fake_llm.requests[0].system_prompt == "Speak like a pirate."


async def test_without_a_character_or_instructions_no_system_prompt_is_sent(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    server = await make_llm_server()
    client = await server.connect()
    await ask(client, "Hi")
    assert fake_llm.requests[0].system_prompt is None
    assert fake_llm.requests[0].messages == [{"role": "user", "content": "Hi"}]


async def test_a_reload_that_removes_the_character_falls_back_and_changes_the_prompt(
    make_llm_server: MakeServer, fake_llm: FakeLLM, packs_root: Path
) -> None:
    folder = write_pack(packs_root, "castle", ["Knight"])
    (folder / "queen.toml").write_text(character_toml("Queen", good=True), encoding="utf-8")
    server = await make_llm_server()
    client = await server.connect()
    await client.update(voice="Alice")
    await ask(client, "Hello")
    reloaded = await client.reload("castle")
    assert (reloaded["voice"], reloaded["replaced_voice"]) == ("Queen", "Alice")
    await ask(client, "Who is there?")
    prompt = fake_llm.requests[1].system_prompt
    assert prompt is not None
    assert "You are Queen." in prompt
    assert "Alice" not in prompt


async def test_a_reload_that_keeps_the_character_uses_its_new_definition(
    make_llm_server: MakeServer, fake_llm: FakeLLM, packs_root: Path
) -> None:
    folder = packs_root / "alice_again"
    folder.mkdir()
    (folder / "alice.toml").write_text(
        character_toml("Alice", text="You are Alice, now a pirate."), encoding="utf-8"
    )
    server = await make_llm_server()
    client = await server.connect()
    await client.update(voice="Alice")
    await ask(client, "Hi")
    await client.reload("alice_again")
    await ask(client, "Hi again")
    assert "now a pirate" not in (fake_llm.requests[0].system_prompt or "")
    assert "now a pirate" in (fake_llm.requests[1].system_prompt or "")


async def test_two_sessions_with_different_characters_each_get_their_own_stream(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    def echo_prompt(body: Any) -> list[str]:
        system = body["messages"][0]["content"]
        name = "Alice" if "You are Alice." in system else "Bob"
        return [f"I am {name}", f", answering {body['messages'][-1]['content']}."]

    gate = asyncio.Event()
    fake_llm.default = StreamReply(chunks=echo_prompt, gate=gate)
    server = await make_llm_server()
    alice, bob = await server.connect(), await server.connect()
    await alice.update(voice="Alice")
    await bob.update(voice="Bob")
    await alice.say("question A")
    await bob.say("question B")
    await alice.send({"type": "response.create"})
    await bob.send({"type": "response.create"})
    # Both requests are in flight at once before either stream starts.
    await fake_llm.wait_until(lambda: len(fake_llm.requests) == 2)
    gate.set()
    alice_events = await alice.receive_until("response.done")
    bob_events = await bob.receive_until("response.done")
    assert streamed_text(alice_events) == "I am Alice, answering question A."
    assert streamed_text(bob_events) == "I am Bob, answering question B."
    prompts = {request.system_prompt for request in fake_llm.requests}
    assert len(prompts) == 2
    assert alice_events[0]["response"]["id"] != bob_events[0]["response"]["id"]


# --------------------------------------------------------------------------- failures


def closed_port_url() -> str:
    """A loopback URL nothing listens on: the port was bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def assert_failed(client: Realtime, code: str) -> None:
    events = await client.respond(event_id="ask")
    done, error = events[-2], events[-1]
    assert done["type"] == "response.done"
    assert done["response"]["status"] == "failed"
    details = done["response"]["status_details"]
    assert details["type"] == "failed"
    assert details["error"]["code"] == code
    assert error["type"] == "error"
    assert error["error"]["code"] == code
    assert error["error"]["type"] == "server_error"
    assert error["error"]["event_id"] == "ask"
    assert error["error"]["message"] == details["error"]["message"]


async def test_a_refused_connection_is_llm_unreachable_and_the_session_stays_usable(
    make_server: MakeServer,
) -> None:
    url = closed_port_url()
    server = await make_server(llm=LLMSettings(url=url, model=FAKE_MODEL, connect_timeout=5))
    client = await server.connect()
    await client.say("Hello?")
    await assert_failed(client, "llm_unreachable")
    assert url not in json.dumps(await server.get_json("/v1/health"))
    assert (await client.update(voice="Bob"))["session"]["voice"] == "Bob"
    await assert_failed(client, "llm_unreachable")


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (StatusReply(500), "llm_http_error"),
        (StatusReply(401), "llm_http_error"),
        (RawReply(b"data: {this is not json\n\n"), "llm_bad_stream"),
        (StreamReply(chunks=["half"], then="close"), "llm_bad_stream"),
        (StreamReply(chunks=["no end"], then="end"), "llm_bad_stream"),
        (SilentReply(), "llm_timeout"),
        (StreamReply(chunks=["and then"], then="stall"), "llm_timeout"),
    ],
)
async def test_each_llm_failure_is_a_failed_response_with_its_code_and_the_session_recovers(
    make_llm_server: MakeServer, fake_llm: FakeLLM, reply: Any, code: str
) -> None:
    fake_llm.enqueue(reply)
    server = await make_llm_server(first_token_timeout=0.3, total_timeout=5.0)
    client = await server.connect()
    await client.say("Hello?")
    await assert_failed(client, code)
    assert not conversation_tasks()
    await client.say("Again?")
    events = await client.respond()
    assert events[-1]["response"]["status"] == "completed"
    assert streamed_text(events) == "Hello there."


async def test_a_failure_after_some_text_keeps_that_text_in_the_output(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(StreamReply(chunks=["Half an", " answer"], then="close"))
    server = await make_llm_server()
    client = await server.connect()
    await client.say("Hello?")
    events = await client.respond()
    assert streamed_text(events) == "Half an answer"
    done = events[-2]["response"]
    assert done["status"] == "failed"
    assert done["output"][0]["content"] == [{"type": "text", "text": "Half an answer"}]
    assert done["output"][0]["status"] == "incomplete"


# --------------------------------------------------------------------------- connection ends


async def test_a_client_leaving_mid_stream_closes_the_upstream_request_and_leaves_no_task(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(StreamReply(chunks=["Still", " talking"], then="stall"))
    server = await make_llm_server()
    client = await server.connect()
    await client.say("Talk")
    await client.send({"type": "response.create"})
    await client.receive_until("response.text.delta")
    await client.ws.close()
    await fake_llm.wait_until(lambda: fake_llm.requests[0].disconnected)
    await until(lambda: not len(server.app[SESSIONS]), "the session to end")
    await until(lambda: not conversation_tasks(), "the response task to end")


async def test_a_client_too_slow_for_a_stream_is_cut_off_with_1008(
    make_server: MakeServer,
    fake_llm: FakeLLM,
    raw_sockets: list[RawWebSocket],
) -> None:
    # About 16 MiB of deltas: far more than the socket buffers hold while nobody reads.
    fake_llm.enqueue(StreamReply(chunks=["x" * 32768] * 512))
    llm = LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL)
    # Room for the burst a response starts with (response.created, the item and its part).
    server = await make_server(llm=llm, outbox_limit=8)
    before = await server.metrics()
    bystander = await server.connect()
    url = server.client.make_url("/")
    raw = await RawWebSocket.connect(url.host or "127.0.0.1", url.port or 0)
    raw_sockets.append(raw)
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}
    raw.send_text(json.dumps({"type": "conversation.item.create", "item": item}))
    raw.send_text(json.dumps({"type": "response.create"}))
    await fake_llm.wait_until(lambda: bool(fake_llm.requests) and fake_llm.requests[0].disconnected)
    # Only the slow session went; the other is served meanwhile.
    assert (await bystander.list())["pack"] == "default"
    while True:
        opcode, payload = await asyncio.wait_for(raw.read_frame(), 30)
        if opcode == 0x8:
            break
    assert int.from_bytes(payload[:2], "big") == aiohttp.WSCloseCode.POLICY_VIOLATION
    assert payload[2:] == b"client too slow"
    await until(lambda: len(server.app[SESSIONS]) == 1, "the slow session to end")
    await until(lambda: not conversation_tasks(), "the response task to end")
    after = await server.metrics()
    closes = "unmute_websocket_closes_total"
    assert sample_in(after, closes, {"code": "1008"}) == (
        sample_in(before, closes, {"code": "1008"}) + 1
    )


async def test_the_backend_is_made_at_start_up_and_closed_at_cleanup(
    make_test_server: MakeTestServer, fake_llm: FakeLLM
) -> None:
    server = await make_test_server(llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL))
    backend = server.app[LLM_BACKEND].backend
    assert isinstance(backend, OpenAICompatibleBackend)
    question = [ChatMessage("user", "Hi")]
    assert [delta async for delta in backend.stream(question)] == ["Hello", " there", "."]
    await server.close()
    with pytest.raises(LLMError) as closed:
        await anext(backend.stream(question))
    assert closed.value == LLMError(
        LLMErrorCode.UNREACHABLE, "the request to the LLM server failed"
    )
    assert len(fake_llm.requests) == 1


# --------------------------------------------------------------------------- metrics


def delta(before: str, after: str, name: str, **labels: str) -> float:
    return sample_in(after, name, labels) - sample_in(before, name, labels)


async def test_llm_metrics_count_a_known_sequence(
    make_llm_server: MakeServer, make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    server = await make_llm_server()
    before = await server.metrics()
    client = await server.connect()
    await ask(client, "completed")  # first token, completed
    fake_llm.enqueue(StatusReply(500))
    await ask(client, "failed")  # no first token, failed llm_http_error
    fake_llm.enqueue(StreamReply(chunks=["some"], then="stall"))
    await client.say("cancelled")
    await client.send({"type": "response.create"})
    await client.receive_until("response.text.delta")
    await client.send({"type": "response.cancel"})
    await client.receive_until("response.done")  # first token, cancelled
    await client.request({"type": "response.cancel"})  # nothing to cancel
    no_llm = await (await make_server()).connect()
    await no_llm.request({"type": "response.create"})  # llm_unavailable
    after = await server.metrics()

    assert delta(before, after, "unmute_llm_time_to_first_token_seconds_count") == 2
    duration = "unmute_llm_response_duration_seconds_count"
    assert delta(before, after, duration, status="completed") == 1
    assert delta(before, after, duration, status="cancelled") == 1
    assert delta(before, after, duration, status="failed") == 1
    failures = "unmute_llm_failures_total"
    assert delta(before, after, failures, code="llm_http_error") == 1
    assert delta(before, after, failures, code="llm_unavailable") == 1
    assert delta(before, after, failures, code="llm_timeout") == 0
    received = "unmute_events_received_total"
    assert delta(before, after, received, type="conversation.item.create") == 3
    assert delta(before, after, received, type="response.create") == 4
    assert delta(before, after, received, type="response.cancel") == 2


async def test_every_llm_metric_is_exposed_before_any_response(server: Server) -> None:
    text = await server.metrics()
    assert "# TYPE unmute_llm_time_to_first_token_seconds histogram" in text
    assert "# TYPE unmute_llm_response_duration_seconds histogram" in text
    for status in ("completed", "cancelled", "failed"):
        assert f'unmute_llm_response_duration_seconds_count{{status="{status}"}}' in text
    for code in (
        "llm_unavailable",
        "llm_unreachable",
        "llm_timeout",
        "llm_http_error",
        "llm_bad_stream",
    ):
        assert f'unmute_llm_failures_total{{code="{code}"}}' in text


def conversations_alive() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Conversation))


async def test_a_conversation_is_made_on_the_first_conversation_event_and_freed_after(
    make_llm_server: MakeServer,
) -> None:
    server = await make_llm_server()
    before = conversations_alive()
    client = await server.connect()
    await client.list()
    await client.update(voice="Alice")
    await client.reload("second")
    assert conversations_alive() == before
    await client.say("Hi")
    assert conversations_alive() == before + 1
    await client.ws.close()
    await until(lambda: not len(server.app[SESSIONS]), "the session to end")
    await until(lambda: conversations_alive() == before, "the conversation to be freed")
