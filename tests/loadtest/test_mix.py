"""The event mix: session scripts planned from a seed, and the frames they become."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from unmute_server.loadtest.mix import (
    EXPECTED_ANSWER,
    Action,
    ActionKind,
    payload,
    plan_session,
    reload_pack,
)


# Seeded generators make the plans reproducible; nothing here is a secret.
def plan(index: int = 0, *, reloads: int = 0, events: int = 0, seed: int = 1) -> list[Action]:
    return plan_session(
        index,
        reloads=reloads,
        packs=("a", "b"),
        events=events,
        rng=random.Random(seed),  # noqa: S311
    )


def test_every_session_lists_before_it_chooses_a_voice() -> None:
    assert [action.kind for action in plan()] == [ActionKind.LIST, ActionKind.UPDATE]


def test_each_reload_round_reloads_then_lists_then_chooses_again() -> None:
    kinds = [action.kind for action in plan(reloads=2)][2:]
    assert kinds == [ActionKind.RELOAD, ActionKind.LIST, ActionKind.UPDATE] * 2


def test_reloads_alternate_between_the_packs() -> None:
    packs = [action.pack for action in plan(reloads=4) if action.kind is ActionKind.RELOAD]
    assert packs == ["a", "b", "a", "b"]


def test_neighbouring_sessions_start_on_different_packs() -> None:
    assert reload_pack(("a", "b"), 0, 0) == "a"
    assert reload_pack(("a", "b"), 1, 0) == "b"
    assert reload_pack(("a", "b", "c"), 2, 1) == "a"


def test_steady_events_are_mostly_lists_and_some_updates() -> None:
    counts = Counter(action.kind for action in plan(events=1000)[2:])
    assert set(counts) == {ActionKind.LIST, ActionKind.UPDATE}
    assert 600 <= counts[ActionKind.LIST] <= 800


def test_a_seed_gives_the_same_plan_and_another_seed_another() -> None:
    assert plan(events=50, seed=3) == plan(events=50, seed=3)
    assert plan(events=50, seed=3) != plan(events=50, seed=4)


def test_reloads_without_a_pack_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one pack"):
        plan_session(0, reloads=1, packs=(), events=0, rng=random.Random(0))  # noqa: S311


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="zero or more"):
        plan_session(0, reloads=0, packs=(), events=-1, rng=random.Random(0))  # noqa: S311


def test_list_frame_carries_only_type_and_event_id() -> None:
    assert json.loads(payload(Action(ActionKind.LIST), "e1", ())) == {
        "type": "session.characters.list",
        "event_id": "e1",
    }


def test_reload_frame_names_the_pack() -> None:
    frame = json.loads(payload(Action(ActionKind.RELOAD, pack="classics"), "e2", ()))
    assert frame == {"type": "session.characters.reload", "event_id": "e2", "pack": "classics"}


def test_update_chooses_a_voice_from_the_names_last_shown() -> None:
    frame = json.loads(payload(Action(ActionKind.UPDATE, pick=5), "e3", ("Ann", "Bo", "Cy")))
    assert frame["session"] == {"voice": "Cy"}


def test_update_before_any_list_sets_instructions_instead_of_a_voice() -> None:
    frame = json.loads(payload(Action(ActionKind.UPDATE, pick=5), "e4", ()))
    assert set(frame["session"]) == {"instructions"}


def test_every_event_type_has_the_answer_the_server_sends() -> None:
    assert EXPECTED_ANSWER == {
        ActionKind.LIST: "session.characters.listed",
        ActionKind.UPDATE: "session.updated",
        ActionKind.RELOAD: "session.characters.reloaded",
    }
