"""What a simulated client sends: the event mix, as plain data planned up front.

A browser session connects, lists the characters, picks one with ``session.update``, and
now and then loads another pack and picks again. :func:`plan_session` writes that script
for one session from a seeded random generator, so a run is reproducible and the mix can be
tested without a socket. The only thing decided at run time is *which* voice an update
names: a name from the last list the server sent (``Action.pick`` indexes it), because a
client can only choose among characters it was shown.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass


class ActionKind(enum.StrEnum):
    """A client event type the load generator sends."""

    LIST = "session.characters.list"
    UPDATE = "session.update"
    RELOAD = "session.characters.reload"


#: The server event that answers each client event when all goes well.
EXPECTED_ANSWER: dict[ActionKind, str] = {
    ActionKind.LIST: "session.characters.listed",
    ActionKind.UPDATE: "session.updated",
    ActionKind.RELOAD: "session.characters.reloaded",
}

#: Share of ``list`` among the steady events after the opening (the rest are updates).
STEADY_LIST_SHARE = 0.7


@dataclass(frozen=True, slots=True)
class Action:
    """One client event to send. ``pack`` is set for a reload; ``pick`` for an update."""

    kind: ActionKind
    pack: str | None = None
    pick: int = 0


def opening(rng: random.Random) -> list[Action]:
    """What every session does first: see the characters, then choose one."""
    return [Action(ActionKind.LIST), Action(ActionKind.UPDATE, pick=rng.randrange(1 << 30))]


def reload_round(pack: str, rng: random.Random) -> list[Action]:
    """Load ``pack``, list it, choose a character from it."""
    return [
        Action(ActionKind.RELOAD, pack=pack),
        Action(ActionKind.LIST),
        Action(ActionKind.UPDATE, pick=rng.randrange(1 << 30)),
    ]


def steady_action(rng: random.Random) -> Action:
    """One event of a session's steady state: mostly lists, some changes of character."""
    if rng.random() < STEADY_LIST_SHARE:
        return Action(ActionKind.LIST)
    return Action(ActionKind.UPDATE, pick=rng.randrange(1 << 30))


def reload_pack(packs: Sequence[str], session_index: int, round_index: int) -> str:
    """The pack of a session's ``round_index``-th reload: alternating through ``packs``.

    Sessions start at different offsets so that, at any moment, some sessions load each
    pack: the server must serve several registries at once, as in real use.
    """
    return packs[(session_index + round_index) % len(packs)]


def plan_session(
    session_index: int,
    *,
    reloads: int,
    packs: Sequence[str],
    events: int,
    rng: random.Random,
) -> list[Action]:
    """The script of one session of the ``mix`` scenario (before the disconnect).

    Opening (list, update), then ``reloads`` reload rounds between ``packs`` (reload, list,
    update), then ``events`` steady events. Raises ``ValueError`` when reloads are asked
    for without a pack to load.
    """
    if reloads < 0 or events < 0:
        raise ValueError("reloads and events must be zero or more")
    if reloads and not packs:
        raise ValueError("reloads need at least one pack name")
    plan = opening(rng)
    for round_index in range(reloads):
        plan.extend(reload_round(reload_pack(packs, session_index, round_index), rng))
    plan.extend(steady_action(rng) for _ in range(events))
    return plan


def payload(action: Action, event_id: str, characters: Sequence[str]) -> str:
    """The JSON text frame for ``action``; an update names ``characters[pick]`` if any.

    With no character known yet (the list failed), an update sets plain instructions
    instead, which the server also answers with ``session.updated``.
    """
    event: dict[str, object] = {"type": action.kind.value, "event_id": event_id}
    if action.kind is ActionKind.RELOAD:
        event["pack"] = action.pack
    elif action.kind is ActionKind.UPDATE:
        if characters:
            event["session"] = {"voice": characters[action.pick % len(characters)]}
        else:
            event["session"] = {"instructions": "You are a helpful assistant."}
    return json.dumps(event, separators=(",", ":"))
