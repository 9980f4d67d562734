"""The embedded LLM end to end: a real server, the real bundled model, the bundled characters.

No fake here: ``serve``'s default LLM answers a text conversation with a character of
``character_packs/default``. Answers are capped at a few tokens so the model's speed hardly
counts; each server starts its own model child (about 2 s).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.server.conftest import Json, MakeServer, Realtime, Server
from unmute_server.llm.settings import BUNDLED_MODEL_NAME, EmbeddedLLMSettings

BUNDLED_PACKS = Path(__file__).resolve().parents[2] / "character_packs"


def texts(events: list[Json]) -> list[str]:
    return [event["delta"] for event in events if event["type"] == "response.text.delta"]


async def bundled_server(make_server: MakeServer, **llm: Any) -> Server:
    return await make_server(
        packs_root=BUNDLED_PACKS, default_pack="default", llm=EmbeddedLLMSettings(**llm)
    )


async def health_llm(server: Server) -> Json:
    llm: Json = (await server.get_json("/v1/health"))["llm"]
    return llm


async def test_a_bundled_character_holds_a_short_text_conversation(
    make_server: MakeServer,
) -> None:
    server = await bundled_server(make_server, slots=1, max_tokens=16)
    assert await health_llm(server) == {
        "kind": "embedded",
        "configured": True,
        "up": True,
        "model": BUNDLED_MODEL_NAME,
        "reason": None,
        "slots": {"slots": 1, "busy": 0, "waiting": 0},
    }
    client = await server.connect()
    assert (await client.update(voice="Nova"))["session"]["voice"] == "Nova"
    for question in ("Hello! Who are you?", "What can we talk about?"):
        await client.say(question)
        events = await client.respond()
        assert events[-1]["type"] == "response.done"
        assert events[-1]["response"]["status"] == "completed"
        deltas = texts(events)
        assert len(deltas) > 1
        assert "".join(deltas).strip()


async def test_cancel_and_disconnect_free_the_slot_at_once(make_server: MakeServer) -> None:
    server = await bundled_server(make_server, slots=1, max_tokens=150)
    first = await server.connect()
    await first.update(voice="Nova")
    await first.say("Tell me a long story about the sea.")
    await first.send({"type": "response.create"})
    await first.receive_until("response.text.delta")
    assert (await health_llm(server))["slots"]["busy"] == 1
    await first.send({"type": "response.cancel"})
    done = (await first.receive_until("response.done"))[-1]
    assert done["response"]["status"] == "cancelled"
    # Freed before response.done was sent: not when the model would have finished.
    assert (await health_llm(server))["slots"] == {"slots": 1, "busy": 0, "waiting": 0}

    second = await server.connect()
    await second.say("Tell me another long story.")
    await second.send({"type": "response.create"})
    await second.receive_until("response.text.delta")
    assert (await health_llm(server))["slots"]["busy"] == 1
    await second.ws.close()
    # The server learns of the close when it reads it: a bounded wait, not a clock.
    for _ in range(200):
        if (await health_llm(server))["slots"]["busy"] == 0:
            break
        await asyncio.sleep(0.05)
    assert (await health_llm(server))["slots"] == {"slots": 1, "busy": 0, "waiting": 0}

    # The freed slot serves the next session.
    await first.say("Hello again.")
    events = await first.respond()
    assert events[-1]["response"]["status"] == "completed"
    assert "".join(texts(events)).strip()


async def test_a_model_that_cannot_start_leaves_characters_served_and_says_why(
    make_server: MakeServer, tmp_path: Path
) -> None:
    broken = tmp_path / "model.gguf"
    broken.write_bytes(b"this is no model")
    server = await make_server(llm=EmbeddedLLMSettings(model_file=broken))
    reason = f"model file '{broken}' is not a GGUF file"
    health = await server.get_json("/v1/health")
    assert health["llm_up"] is False
    assert health["llm"] == {
        "kind": "embedded",
        "configured": True,
        "up": False,
        "model": "model",
        "reason": reason,
        "slots": None,
    }
    client: Realtime = await server.connect()
    assert (await client.update(voice="Bob"))["session"]["voice"] == "Bob"
    await client.say("Hello?")
    await client.send({"type": "response.create", "event_id": "ask"})
    error = await client.receive()
    assert error["type"] == "error"
    assert error["error"]["code"] == "llm_unavailable"
    assert error["error"]["message"] == reason


async def test_a_long_conversation_keeps_getting_answers_past_the_models_context(
    make_server: MakeServer,
) -> None:
    """The slot holds 1,024 tokens; each question is about 90 of them, so well before the tenth
    turn the whole history no longer fits (llama.cpp refused it with HTTP 400, and the answer
    was lost). Every turn must still be answered: the oldest turns are left out of the
    request, the persona and the question being answered never are."""
    server = await bundled_server(make_server, slots=1, max_tokens=8, context=1024)
    client = await server.connect()
    await client.update(voice="Nova")
    for turn in range(10):
        question = f"Question {turn}: " + "Tell me about the sea, the ships and the sailors. " * 8
        await client.say(question)
        events = await client.respond()
        done = events[-1]
        assert done["type"] == "response.done"
        assert done["response"]["status"] == "completed", (turn, done)
        assert "".join(texts(events)).strip()
