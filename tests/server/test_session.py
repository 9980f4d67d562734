"""Session state: whole-registry swaps, all-or-nothing updates, seeded prompts, reload budget."""

from __future__ import annotations

import sys

import pytest

from unmute_server.characters.model import Character
from unmute_server.characters.registry import CharacterRegistry
from unmute_server.server.session import ReloadBudget, Session


def character(
    name: str, instructions: dict[str, str] | None = None, *, good: bool = False
) -> Character:
    return Character.model_validate(
        {
            "name": name,
            "good": good,
            "voice": {"source_type": "file", "path_on_server": "v.wav"},
            "instructions": instructions or {"type": "constant", "text": f"You are {name}."},
        }
    )


def registry(pack: str, *characters: Character) -> CharacterRegistry:
    return CharacterRegistry(pack=pack, content_key=pack * 12, characters=characters)


def budget() -> ReloadBudget:
    return ReloadBudget(10, 10.0, now=0.0)


def test_new_session_has_no_choice_and_no_prompt() -> None:
    session = Session(registry("a", character("Ann")), budget())
    assert (session.voice, session.system_prompt, session.allow_recording) == (None, None, False)


def test_choosing_a_voice_renders_its_prompt() -> None:
    session = Session(registry("a", character("Ann")), budget(), seed=1)
    session.update(voice="Ann")
    assert session.voice == "Ann"
    assert session.system_prompt is not None
    assert "You are Ann." in session.system_prompt


def test_unknown_voice_changes_nothing_at_all() -> None:
    session = Session(registry("a", character("Ann")), budget())
    session.update(voice="Ann", instructions="first", allow_recording=True)
    prompt = session.system_prompt
    with pytest.raises(KeyError):
        session.update(voice="Bea", instructions="second", allow_recording=False)
    assert (session.voice, session.given_instructions) == ("Ann", "first")
    assert session.allow_recording is True
    assert session.system_prompt == prompt


def test_given_instructions_are_the_prompt_only_without_a_character() -> None:
    session = Session(registry("a", character("Ann")), budget())
    session.update(instructions="Talk like a pirate.")
    assert session.system_prompt == "Talk like a pirate."
    session.update(voice="Ann")
    assert session.system_prompt != "Talk like a pirate."


def test_adopt_swaps_the_registry_and_looks_the_choice_up_again() -> None:
    old = registry("a", character("Ann"))
    new_ann = character("Ann", {"type": "constant", "text": "You are the new Ann."})
    session = Session(old, budget(), seed=3)
    session.update(voice="Ann")
    assert session.adopt(registry("b", new_ann)) is None
    assert session.registry.pack == "b"
    assert session.character is new_ann
    assert session.system_prompt is not None
    assert "new Ann" in session.system_prompt


def test_adopt_falls_back_to_the_first_good_character_and_names_the_one_gone() -> None:
    session = Session(registry("a", character("Ann")), budget(), seed=5)
    session.update(voice="Ann", instructions="given")
    new_pack = registry("b", character("Bea"), character("Cy", good=True), character("Di"))
    assert session.adopt(new_pack) == "Ann"
    assert session.voice == "Cy"
    assert session.system_prompt is not None
    assert "You are Cy." in session.system_prompt
    assert session.given_instructions == "given"
    # Cy is in the next pack too: nothing was replaced.
    assert session.adopt(registry("c", character("Cy"))) is None
    assert session.voice == "Cy"


def test_adopt_falls_back_to_the_first_character_when_none_is_good() -> None:
    session = Session(registry("a", character("Ann")), budget())
    session.update(voice="Ann")
    assert session.adopt(registry("b", character("Bea"), character("Cy"))) == "Ann"
    assert session.voice == "Bea"
    assert session.system_prompt is not None
    assert "You are Bea." in session.system_prompt


def test_adopt_keeps_the_instructions_of_a_session_without_a_character() -> None:
    session = Session(registry("a", character("Ann")), budget())
    session.update(instructions="Talk like a pirate.")
    assert session.adopt(registry("b", character("Bea", good=True))) is None
    assert session.voice is None
    assert session.system_prompt == "Talk like a pirate."


def test_same_seed_same_prompt_for_seeded_builders() -> None:
    smalltalk = character("Sam", {"type": "smalltalk"})
    prompts = set()
    for _ in range(3):
        session = Session(registry("a", smalltalk), budget(), seed=42)
        session.update(voice="Sam")
        prompts.add(session.system_prompt)
    assert len(prompts) == 1


def test_reload_budget_refills_with_time() -> None:
    bucket = ReloadBudget(2, 10.0, now=100.0)
    assert bucket.take(100.0)
    assert bucket.take(100.0)
    assert not bucket.take(100.0)
    assert not bucket.take(104.0)  # 0.8 of a reload refilled
    assert bucket.take(105.5)
    assert not bucket.take(105.5)
    assert bucket.take(1000.0)
    assert bucket.take(1000.0)
    assert not bucket.take(1000.0)  # never more than the limit saved up


def test_sessions_are_small() -> None:
    """No ``__dict__``: an idle session is a handful of slots pointing at shared objects."""
    session = Session(registry("a", character("Ann")), budget())
    assert not hasattr(session, "__dict__")
    assert sys.getsizeof(session) + sys.getsizeof(session.reload_budget) < 256
