"""``session.update`` as kyutai-labs/unmute's frontend sends it, through a real server: the
character named by its voice ``path_on_server``, and ``instructions`` as an object that picks
the prompt builder for the session."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fake_llm import FakeLLM
from tests.server.conftest import MakeServer, Server, character_toml, write_pack

SMALLTALK = {"type": "smalltalk", "language": "en/fr"}
BILINGUAL_RULE = "You speak English and French."


async def test_a_voice_path_on_server_chooses_that_character(server: Server) -> None:
    client = await server.connect()
    updated = await client.update(voice="voices/bob.wav")
    assert updated["session"]["voice"] == "Bob"
    assert "You are Bob." in updated["session"]["instructions"]


async def test_a_voice_path_no_character_has_is_unknown_and_keeps_the_character(
    server: Server,
) -> None:
    client = await server.connect()
    await client.update(voice="Alice")
    refused = await client.update(voice="voices/zed.wav", allow_recording=True)
    assert refused["error"]["code"] == "unknown_character"
    assert refused["error"]["param"] == "session.voice"
    assert "voices/zed.wav" in refused["error"]["message"]
    # The rest of the update applies (issue 10): session.updated follows, Alice kept.
    kept = await client.receive()
    assert kept["type"] == "session.updated"
    assert kept["session"]["voice"] == "Alice"
    assert kept["session"]["allow_recording"] is True
    assert "You are Alice." in kept["session"]["instructions"]


async def test_a_voice_path_two_characters_share_is_refused_but_their_names_work(
    make_server: MakeServer, packs_root: Path
) -> None:
    folder = write_pack(packs_root, "shared", ["Ann"])
    (folder / "ben.toml").write_text(
        character_toml("Ben").replace("voices/ben.wav", "voices/ann.wav"), encoding="utf-8"
    )
    server = await make_server(default_pack="shared")
    client = await server.connect()
    refused = await client.update(voice="voices/ann.wav")
    assert refused["error"]["code"] == "unknown_character"
    assert (await client.receive())["type"] == "session.updated"
    assert (await client.update(voice="Ben"))["session"]["voice"] == "Ben"


async def test_the_frontends_update_renders_the_smalltalk_builder_for_the_character(
    server: Server,
) -> None:
    client = await server.connect()
    # Exactly what the frontend sends once it has read /v1/voices.
    updated = await client.update(
        instructions=SMALLTALK, voice="voices/alice.wav", allow_recording=False
    )
    session = updated["session"]
    assert session["voice"] == "Alice"
    prompt = session["instructions"]
    assert prompt.startswith("You are Alice, chatting with someone on a voice call.")
    assert "You are Alice." not in prompt  # the character's own constant text is replaced
    assert BILINGUAL_RULE in prompt
    # The same session renders the same prompt again (seeded), and a change of voice keeps
    # the builder, now speaking as the new character.
    again = await client.update(instructions=SMALLTALK)
    assert again["session"]["instructions"] == prompt
    bob = await client.update(voice="Bob")
    assert bob["session"]["instructions"].startswith("You are Bob, chatting")


async def test_constant_instructions_from_the_frontend_are_the_prompt(server: Server) -> None:
    client = await server.connect()
    text = "Answer only with haikus."
    updated = await client.update(
        voice="Alice", instructions={"type": "constant", "text": text, "language": "en/fr"}
    )
    prompt = updated["session"]["instructions"]
    assert prompt.startswith(text + "\n\n")
    assert BILINGUAL_RULE in prompt
    assert "You are Alice." not in prompt


async def test_object_instructions_without_a_character_speak_as_the_assistant(
    server: Server,
) -> None:
    client = await server.connect()
    updated = await client.update(instructions={"type": "quiz_show"})
    assert updated["session"]["voice"] is None
    prompt = updated["session"]["instructions"]
    assert "the assistant" in prompt
    assert "quiz" in prompt.lower()


async def test_a_string_after_an_object_is_a_literal_prompt_again(server: Server) -> None:
    client = await server.connect()
    await client.update(instructions=SMALLTALK)
    updated = await client.update(instructions="Speak like a pirate.")
    assert updated["session"]["instructions"] == "Speak like a pirate."
    # With a character chosen, a string leaves the character's own prompt, as before.
    alice = await client.update(voice="Alice")
    assert "You are Alice." in alice["session"]["instructions"]


async def test_a_reload_keeps_object_instructions_for_the_new_pack(
    server: Server, packs_root: Path
) -> None:
    folder = write_pack(packs_root, "with_good", [])
    (folder / "ivy.toml").write_text(character_toml("Ivy", good=True), encoding="utf-8")
    client = await server.connect()
    await client.update(voice="Alice", instructions=SMALLTALK)
    await client.reload("with_good")
    updated = await client.update(allow_recording=True)
    assert updated["session"]["voice"] == "Ivy"
    assert updated["session"]["instructions"].startswith("You are Ivy, chatting")


async def test_an_instructions_object_of_no_known_type_is_an_invalid_event(
    server: Server,
) -> None:
    client = await server.connect()
    await client.update(voice="Alice")
    for instructions in (
        {"type": "improv"},
        {"type": "constant"},  # no text
        {"type": "smalltalk", "language": "english"},
        {"type": "template", "text": "{__class__}"},
    ):
        await client.send_raw(
            json.dumps({"type": "session.update", "session": {"instructions": instructions}})
        )
        error = await client.receive()
        assert error["error"]["code"] == "invalid_event", instructions
    kept = await client.update(allow_recording=True)
    assert "You are Alice." in kept["session"]["instructions"]


async def test_the_llm_gets_the_prompt_the_instructions_object_built(
    make_llm_server: MakeServer, fake_llm: FakeLLM
) -> None:
    server = await make_llm_server()
    client = await server.connect()
    updated = await client.update(voice="voices/alice.wav", instructions=SMALLTALK)
    await client.say("Hello?")
    await client.respond()
    assert fake_llm.requests[0].system_prompt == updated["session"]["instructions"]
