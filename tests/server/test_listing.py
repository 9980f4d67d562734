"""A registry's listing is encoded once and reused with a fresh event id each time."""

from __future__ import annotations

import json
import re

from tests.server.test_session import character, registry
from unmute_server.protocol.events import SERVER_EVENTS, CharactersListed, encode, new_event_id
from unmute_server.server.websocket import listing, listing_frame


def test_the_reused_frame_is_the_encoding_of_the_listing_with_its_id() -> None:
    pack = registry(
        "odd",
        character('Zoë "the quoted"', good=True),
        character("Plain\\Slash"),
    )
    frame = listing_frame(pack)
    event_id = json.loads(frame)["event_id"]
    assert frame == encode(listing(pack, event_id))
    parsed = SERVER_EVENTS.validate_json(frame)
    assert isinstance(parsed, CharactersListed)
    assert [summary.name for summary in parsed.characters] == ['Zoë "the quoted"', "Plain\\Slash"]


def test_every_frame_has_its_own_event_id_and_each_registry_its_own_listing() -> None:
    first, second = registry("one", character("Ann")), registry("two", character("Bea"))
    frames = [listing_frame(first) for _ in range(3)] + [listing_frame(second)]
    ids = [json.loads(frame)["event_id"] for frame in frames]
    assert len(set(ids)) == 4
    assert [json.loads(frame)["pack"] for frame in frames] == ["one", "one", "one", "two"]


def test_event_ids_look_like_the_peers_and_do_not_repeat() -> None:
    ids = [new_event_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"event_[A-Za-z0-9_-]{21}", event_id) for event_id in ids)
