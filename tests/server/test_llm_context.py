"""Every request fits the LLM's context: what a real server sends to the fake LLM, turn by turn.

A remote LLM with a context (``--llm-context``) is fitted as the embedded one always is; the
assertions are on the messages the fake LLM recorded and the events the client received.
Questions are 400 letters and spaces (about 205 tokens by the server's bound) and the fake's
answer "Hello there." about 12, so a context of 600 tokens less 50 for the answer holds the
persona and three messages: the window is known exactly.
"""

from __future__ import annotations

from tests.fake_llm import FakeLLM
from tests.server.conftest import MakeServer, Realtime, Server, sample_in

PERSONA = "Speak like a pirate."
ANSWER = "Hello there."


def question(number: int) -> str:
    return f"Question {'abcdefghij'[number]} " + "word " * 78


def sent(fake_llm: FakeLLM, request: int) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in fake_llm.requests[request].messages]


async def converse(client: Realtime, turns: int) -> None:
    for number in range(turns):
        await client.say(question(number))
        events = await client.respond()
        assert events[-1]["response"]["status"] == "completed"


async def pirate(server: Server) -> Realtime:
    client = await server.connect()
    await client.update(instructions=PERSONA)
    return client


async def test_the_oldest_whole_turns_are_left_out_and_the_persona_and_question_kept(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    server = await make_llm_server(context=600, max_tokens=50)
    await converse(await pirate(server), 5)
    # The second request still fits whole.
    assert sent(fake_llm, 1) == [
        ("system", PERSONA),
        ("user", question(0)),
        ("assistant", ANSWER),
        ("user", question(1)),
    ]
    # From the third on, the oldest turns go: a fourth message would not fit, and the window
    # starts with a question, never with an answer whose question is gone.
    for request in (2, 3, 4):
        assert sent(fake_llm, request) == [
            ("system", PERSONA),
            ("user", question(request - 1)),
            ("assistant", ANSWER),
            ("user", question(request)),
        ]
    assert all(r.body["max_tokens"] == 50 for r in fake_llm.requests)


async def test_a_remote_llm_without_a_context_gets_the_whole_history(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    server = await make_llm_server(max_tokens=50)
    await converse(await pirate(server), 5)
    assert len(fake_llm.requests[4].messages) == 1 + 9
    assert sent(fake_llm, 4)[1] == ("user", question(0))


async def test_a_persona_that_cannot_fit_is_llm_context_exceeded_naming_the_budget(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    server = await make_llm_server(context=600, max_tokens=50)
    before = await server.metrics()
    client = await server.connect()
    await client.update(instructions="Speak like a pirate. " * 60)
    await client.say("Hello?")
    error = await client.request({"type": "response.create", "event_id": "ask"})
    assert error["type"] == "error"
    assert error["error"]["code"] == "llm_context_exceeded"
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"] == (
        "the character's system prompt needs up to 665 tokens, more than the 547 a context "
        "of 600 leaves beside 50 for the answer; shorten the prompt or raise --llm-context"
    )
    assert fake_llm.requests == []
    after = await server.metrics()
    failures = "unmute_llm_failures_total"
    code = {"code": "llm_context_exceeded"}
    assert sample_in(after, failures, code) - sample_in(before, failures, code) == 1
    # No response was created: a shorter persona is answered at once.
    await client.update(instructions=PERSONA)
    events = await client.respond()
    assert events[-1]["response"]["status"] == "completed"
    assert sent(fake_llm, 0) == [("system", PERSONA), ("user", "Hello?")]


async def test_a_message_too_long_to_answer_is_refused_and_then_left_out(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    server = await make_llm_server(context=600, max_tokens=50)
    client = await pirate(server)
    await client.say("word " * 300)
    error = await client.request({"type": "response.create"})
    assert error["error"]["code"] == "llm_context_exceeded"
    assert error["error"]["message"].startswith("the message to answer needs up to 755 tokens")
    assert fake_llm.requests == []
    # The next question is answered without the one that can never fit.
    await client.say("And now?")
    events = await client.respond()
    assert events[-1]["response"]["status"] == "completed"
    assert sent(fake_llm, 0) == [("system", PERSONA), ("user", "And now?")]
