"""``/v1/realtime`` end to end: real server on loopback, real WebSocket clients, real packs."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import random
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import generate_latest
from pytest_aiohttp import AiohttpClient

from tests.server.conftest import (
    DEFAULT_NAMES,
    SECOND_NAMES,
    Json,
    MakeServer,
    MakeTestServer,
    RawWebSocket,
    Realtime,
    Serve,
    Server,
    character_toml,
    opened,
    sample_in,
    until,
    write_pack,
)
from unmute_server.characters.folders import OpenFolder
from unmute_server.characters.pack import load_pack
from unmute_server.characters.registry import RegistryCache
from unmute_server.conversation.news import NewsFeed
from unmute_server.conversation.prompt_source import PromptSource
from unmute_server.server.metrics import CacheMetrics
from unmute_server.server.outbox import Outbox
from unmute_server.server.session import ReloadBudget, Session
from unmute_server.server.settings import Settings
from unmute_server.server.state import PACKS, SESSIONS, Packs, SessionHub
from unmute_server.server.websocket import Connection


def names(event: dict[str, object]) -> list[str]:
    characters = event["characters"]
    assert isinstance(characters, list)
    return [character["name"] for character in characters]


async def wait_for_no_sessions(server: Server) -> None:
    """Until the server has noticed every client went away."""
    await until(lambda: not len(server.app[SESSIONS]), "every session to end")


def sessions_alive() -> list[object]:
    """Session state still reachable from anywhere, after a full collection."""
    gc.collect()
    return [obj for obj in gc.get_objects() if isinstance(obj, (Session, Connection))]


async def wait_until_sessions_are_freed() -> None:
    """A handler leaves the hub a moment before it returns; then nothing may hold its state."""
    await until(lambda: not sessions_alive(), "every session's state to be freed", polls=400)


# --------------------------------------------------------------------------- basics


async def test_new_session_lists_the_default_pack(server: Server) -> None:
    client = await server.connect()
    listed = await client.list()
    assert listed["type"] == "session.characters.listed"
    assert listed["pack"] == "default"
    assert listed["character_count"] == 2
    assert names(listed) == list(DEFAULT_NAMES)
    assert listed["version"] == server.app[PACKS].default.version


async def test_new_sessions_share_the_default_registry_without_parsing(server: Server) -> None:
    cache = server.app[PACKS].cache
    before = cache.stats
    clients = [await server.connect() for _ in range(5)]
    for client in clients:
        await client.list()
    assert cache.stats == before
    assert cache.live_registries() == 1


async def test_realtime_subprotocol_is_accepted_when_offered(server: Server) -> None:
    client = await server.connect(protocols=("realtime",))
    assert client.ws.protocol == "realtime"
    assert (await client.list())["pack"] == "default"


async def test_update_with_voice_renders_that_characters_prompt(server: Server) -> None:
    client = await server.connect()
    updated = await client.update(voice="Alice", allow_recording=True)
    assert updated["type"] == "session.updated"
    assert updated["session"]["voice"] == "Alice"
    assert updated["session"]["allow_recording"] is True
    assert updated["session"]["pack"] == "default"
    assert "You are Alice." in updated["session"]["instructions"]


async def test_instructions_without_a_voice_are_used_as_given(server: Server) -> None:
    client = await server.connect()
    updated = await client.update(instructions="Speak like a pirate.")
    assert updated["session"] == {
        "voice": None,
        "instructions": "Speak like a pirate.",
        "allow_recording": False,
        "pack": "default",
        "input_audio_format": None,
        "output_audio_format": None,
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
            "create_response": True,
            "interrupt_response": True,
        },
        "input_audio_transcription": None,
    }


async def test_update_ignores_fields_the_openai_sdk_sends(server: Server) -> None:
    client = await server.connect()
    updated = await client.request(
        {
            "type": "session.update",
            "event_id": "evt_1",
            "session": {
                "voice": "Bob",
                "modalities": ["text", "audio"],
                "turn_detection": {"type": "server_vad"},
                "input_audio_format": "pcm16",
                "temperature": 0.8,
            },
        }
    )
    assert updated["type"] == "session.updated"
    assert updated["session"]["voice"] == "Bob"


async def test_unknown_voice_is_an_error_and_keeps_the_previous_choice(server: Server) -> None:
    client = await server.connect()
    await client.update(voice="Alice")
    error = await client.request(
        {"type": "session.update", "event_id": "e7", "session": {"voice": "Zed"}}
    )
    assert error["error"]["code"] == "unknown_character"
    assert error["error"]["event_id"] == "e7"
    assert error["error"]["param"] == "session.voice"
    assert "Zed" in error["error"]["message"]
    # The rest of the update (here nothing) still applies: session.updated follows.
    updated = await client.receive()
    assert updated["type"] == "session.updated"
    assert updated["session"]["voice"] == "Alice"
    again = await client.update(allow_recording=False)
    assert again["session"]["voice"] == "Alice"


async def test_unknown_voice_names_the_closest_character(server: Server) -> None:
    client = await server.connect()
    error = await client.update(voice="alcie")
    assert error["error"]["code"] == "unknown_character"
    assert "did you mean 'Alice'?" in error["error"]["message"]
    assert (await client.receive())["type"] == "session.updated"  # the rest still applies
    far = await client.update(voice="Zed")
    assert "did you mean" not in far["error"]["message"]


# --------------------------------------------------------------------------- reload


async def test_reload_swaps_the_sessions_pack_and_reports_it(server: Server) -> None:
    client = await server.connect()
    reloaded = await client.reload("second")
    assert reloaded["type"] == "session.characters.reloaded"
    assert reloaded["pack"] == "second"
    assert reloaded["loaded_count"] == 3
    assert reloaded["error_count"] == 0
    assert reloaded["total_files"] == 3
    assert reloaded["errors"] == []
    assert names(reloaded) == list(SECOND_NAMES)
    assert reloaded["voice"] is None
    assert reloaded["replaced_voice"] is None
    listed = await client.list()
    assert names(listed) == list(SECOND_NAMES)
    assert listed["version"] == reloaded["version"]


async def test_directory_is_accepted_as_the_legacy_name_of_pack(server: Server) -> None:
    client = await server.connect()
    reloaded = await client.request({"type": "session.characters.reload", "directory": "second"})
    assert reloaded["pack"] == "second"


async def test_default_names_the_servers_default_pack(make_server: MakeServer) -> None:
    server = await make_server(default_pack="second")
    client = await server.connect()
    await client.reload("broken")
    reloaded = await client.reload("default")
    assert reloaded["pack"] == "second"
    assert names(reloaded) == list(SECOND_NAMES)


async def test_partial_pack_swaps_in_good_characters_and_reports_every_problem(
    server: Server,
) -> None:
    client = await server.connect()
    reloaded = await client.reload("broken")
    assert names(reloaded) == ["Fay"]
    assert reloaded["error_count"] >= 1
    assert reloaded["total_files"] == 2
    paths = {error["path"] for error in reloaded["errors"]}
    assert paths == {"bad.toml"}
    for error in reloaded["errors"]:
        assert error["code"].startswith("CHR")
        assert error["line"] >= 0
        assert error["severity"] in ("error", "warning")
    assert names(await client.list()) == ["Fay"]


async def test_non_strict_reload_never_lets_a_copy_take_over_a_broken_character(
    server: Server, packs_root: Path
) -> None:
    """``b.toml`` copies Hal; when ``a.toml`` (which names Hal first) breaks, Hal is gone
    from the reloaded pack with CHR400 at the copy, rather than the copy speaking as Hal."""
    folder = write_pack(packs_root, "copies", ["Ivy"])
    (folder / "a.toml").write_text(character_toml("Hal", text="The real Hal."))
    (folder / "b.toml").write_text(character_toml("Hal", text="A copy."))
    client = await server.connect()
    first = await client.reload("copies")
    assert names(first) == ["Hal", "Ivy"]
    assert [error["code"] for error in first["errors"]] == ["CHR400"]
    assert (await client.update(voice="Hal"))["session"]["voice"] == "Hal"
    broken = character_toml("Hal", text="The real Hal.").replace('"constant"', '"konstant"')
    (folder / "a.toml").write_text(broken)
    second = await client.reload("copies")
    assert second["type"] == "session.characters.reloaded"
    assert names(second) == ["Ivy"]
    assert second["voice"] != "Hal"
    codes = {(error["path"], error["code"]) for error in second["errors"]}
    assert codes == {("a.toml", "CHR301"), ("b.toml", "CHR400")}


async def test_reload_logs_a_count_and_the_first_few_diagnostics(
    server: Server, packs_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_pack(packs_root, "noisy", ["Ivy"])
    for index in range(12):
        (folder / f"bad{index:02d}.toml").write_text(f'name = "Bad{index}"\ngood = "yes"\n')
    caplog.set_level(logging.INFO, logger="unmute_server")
    client = await server.connect()
    reloaded = await client.reload("noisy")
    assert reloaded["error_count"] == 36
    logged = [
        record.getMessage() for record in caplog.records if "pack 'noisy'" in record.getMessage()
    ]
    assert len(logged) == 1, logged
    (message,) = logged
    assert "36 errors, 0 warnings" in message
    assert "bad00.toml" in message
    assert "bad11.toml" not in message
    assert "and 31 more" in message


async def test_strict_reload_keeps_the_old_pack_when_any_file_has_an_error(
    server: Server,
) -> None:
    client = await server.connect()
    error = await client.request(
        {"type": "session.characters.reload", "pack": "broken", "strict": True, "event_id": "s1"}
    )
    assert error["type"] == "error"
    assert error["error"]["code"] == "strict_rejected"
    assert error["error"]["event_id"] == "s1"
    details = error["error"]["details"]
    assert details["pack"] == "broken"
    assert {item["path"] for item in details["errors"]} == {"bad.toml"}
    assert names(await client.list()) == list(DEFAULT_NAMES)


async def test_strict_refusal_counts_one_error_in_the_singular(
    server: Server, packs_root: Path
) -> None:
    folder = write_pack(packs_root, "one-error", ["Ivy"])
    (folder / "jo.toml").write_text(character_toml("Jo").replace("good = false", 'good = "no"'))
    client = await server.connect()
    error = await client.reload("one-error", strict=True)
    assert error["error"]["code"] == "strict_rejected"
    assert "pack 'one-error' has 1 error and strict was asked" in error["error"]["message"]


async def test_strict_reload_of_a_clean_pack_swaps(server: Server) -> None:
    client = await server.connect()
    reloaded = await client.reload("second", strict=True)
    assert reloaded["type"] == "session.characters.reloaded"


async def test_pack_without_valid_characters_never_swaps(server: Server) -> None:
    client = await server.connect()
    error = await client.reload("empty")
    assert error["error"]["code"] == "no_valid_characters"
    codes = {item["code"] for item in error["error"]["details"]["errors"]}
    assert "CHR402" in codes
    assert names(await client.list()) == list(DEFAULT_NAMES)


async def test_missing_pack_is_directory_not_found(server: Server) -> None:
    client = await server.connect()
    error = await client.reload("nowhere")
    assert error["error"]["code"] == "directory_not_found"
    assert error["error"]["param"] == "pack"
    assert names(await client.list()) == list(DEFAULT_NAMES)


async def test_reloading_away_a_chosen_character_falls_back_and_says_so(
    server: Server, packs_root: Path
) -> None:
    folder = write_pack(packs_root, "with_good", ["Hal"])
    (folder / "ivy.toml").write_text(character_toml("Ivy", good=True), encoding="utf-8")
    client = await server.connect()
    await client.update(voice="Alice")
    reloaded = await client.reload("with_good")
    assert (reloaded["voice"], reloaded["replaced_voice"]) == ("Ivy", "Alice")
    updated = await client.update(allow_recording=True)
    assert updated["session"]["voice"] == "Ivy"
    assert "You are Ivy." in updated["session"]["instructions"]
    # No good character in "second": the first one stands in.
    await client.update(voice="Hal")
    reloaded = await client.reload("second")
    assert (reloaded["voice"], reloaded["replaced_voice"]) == (SECOND_NAMES[0], "Hal")


async def test_reloading_keeps_the_instructions_of_a_session_without_a_character(
    server: Server,
) -> None:
    client = await server.connect()
    await client.update(instructions="Speak like a pirate.")
    reloaded = await client.reload("second")
    assert (reloaded["voice"], reloaded["replaced_voice"]) == (None, None)
    updated = await client.update(allow_recording=True)
    assert updated["session"]["instructions"] == "Speak like a pirate."


async def test_reloading_a_pack_that_keeps_the_chosen_character_keeps_the_choice(
    server: Server, packs_root: Path
) -> None:
    write_pack(packs_root, "default_again", ["Alice", "Zoe"])
    client = await server.connect()
    await client.update(voice="Alice")
    reloaded = await client.reload("default_again")
    assert reloaded["voice"] == "Alice"
    assert reloaded["replaced_voice"] is None


async def test_reloads_over_the_rate_limit_are_refused(make_server: MakeServer) -> None:
    server = await make_server(reload_limit=2, reload_window_seconds=3600)
    client = await server.connect()
    assert (await client.reload("second"))["type"] == "session.characters.reloaded"
    assert (await client.reload("default"))["type"] == "session.characters.reloaded"
    refused = await client.request(
        {"type": "session.characters.reload", "pack": "second", "event_id": "r3"}
    )
    assert refused["error"]["code"] == "rate_limited"
    assert refused["error"]["event_id"] == "r3"
    assert names(await client.list()) == list(DEFAULT_NAMES)
    other = await server.connect()
    assert (await other.reload("second"))["type"] == "session.characters.reloaded"


# --------------------------------------------------------------------------- isolation


async def test_two_sessions_never_see_each_others_packs(server: Server) -> None:
    a = await server.connect()
    b = await server.connect()
    await a.update(voice="Alice")
    reloaded = await b.reload("second")
    assert names(reloaded) == list(SECOND_NAMES)
    listed_a = await a.list()
    assert names(listed_a) == list(DEFAULT_NAMES)
    assert not set(names(listed_a)) & set(SECOND_NAMES)
    updated_a = await a.update(voice="Bob")
    assert updated_a["session"]["voice"] == "Bob"
    refused = await a.update(voice="Carol")
    assert refused["error"]["code"] == "unknown_character"
    assert (await a.receive())["session"]["voice"] == "Bob"  # the rest applied, Bob kept
    assert (await b.update(voice="Carol"))["session"]["voice"] == "Carol"
    assert names(await b.list()) == list(SECOND_NAMES)
    assert names(await a.list()) == list(DEFAULT_NAMES)


async def test_sessions_loading_the_same_bytes_share_one_registry(server: Server) -> None:
    clients = [await server.connect() for _ in range(4)]
    versions = {(await client.reload("second"))["version"] for client in clients}
    assert len(versions) == 1
    assert server.app[PACKS].cache.live_registries() == 2


# --------------------------------------------------------------------------- ordering


async def test_reload_then_list_back_to_back_lists_the_new_pack(server: Server) -> None:
    client = await server.connect()
    await client.send({"type": "session.characters.reload", "pack": "second"})
    await client.send({"type": "session.characters.list"})
    reloaded = await client.receive()
    listed = await client.receive()
    assert reloaded["type"] == "session.characters.reloaded"
    assert listed["type"] == "session.characters.listed"
    assert names(listed) == list(SECOND_NAMES)


async def test_two_reloads_back_to_back_end_on_the_second(server: Server) -> None:
    client = await server.connect()
    await client.send({"type": "session.characters.reload", "pack": "second"})
    await client.send({"type": "session.characters.reload", "pack": "broken"})
    await client.send({"type": "session.characters.list"})
    first, second, listed = [await client.receive() for _ in range(3)]
    assert (first["pack"], second["pack"], listed["pack"]) == ("second", "broken", "broken")
    assert names(listed) == ["Fay"]


async def test_answers_come_in_arrival_order_even_when_reloads_are_slow(
    server: Server, packs_root: Path
) -> None:
    write_pack(packs_root, "large", [f"Large{index:03d}" for index in range(300)])
    client = await server.connect()
    sent: list[Json] = [
        {"type": "session.characters.list", "event_id": "0"},
        {"type": "session.characters.reload", "pack": "large"},
        {"type": "session.update", "session": {"voice": "Large150"}},
        {"type": "session.characters.reload", "pack": "second"},
        {"type": "session.characters.list"},
    ]
    for event in sent:
        await client.send(event)
    answers = [await client.receive() for _ in sent]
    assert [answer["type"] for answer in answers] == [
        "session.characters.listed",
        "session.characters.reloaded",
        "session.updated",
        "session.characters.reloaded",
        "session.characters.listed",
    ]
    assert answers[0]["pack"] == "default"
    assert answers[2]["session"]["voice"] == "Large150"
    assert answers[3]["replaced_voice"] == "Large150"
    assert answers[3]["voice"] == SECOND_NAMES[0]
    assert names(answers[4]) == list(SECOND_NAMES)


# --------------------------------------------------------------------------- atomicity


async def test_every_answer_matches_exactly_one_whole_registry_under_concurrent_reloads(
    make_server: MakeServer, packs_root: Path
) -> None:
    """Sessions reload two packs in random orders at once; no answer is ever a mixture."""
    write_pack(packs_root, "red", [f"Red{index:02d}" for index in range(40)])
    write_pack(packs_root, "blue", [f"Blue{index:02d}" for index in range(25)])
    expected = {
        pack: (load_pack(packs_root / pack, pack).version, [f"{pack.title()}{i:02d}" for i in r])
        for pack, r in (("red", range(40)), ("blue", range(25)))
    }
    server = await make_server(reload_limit=1000)
    rounds = 12
    checked = 0

    async def run_session(seed: int) -> int:
        rng = random.Random(seed)  # noqa: S311 (a reproducible order, not a secret)
        client = await server.connect()
        current = "default"
        answers = 0
        for _ in range(rounds):
            if rng.random() < 0.6:
                pack = rng.choice(("red", "blue"))
                await client.send({"type": "session.characters.reload", "pack": pack})
                current = pack
            else:
                await client.send({"type": "session.characters.list"})
            answer = await client.receive()
            if current == "default":
                assert names(answer) == list(DEFAULT_NAMES)
            else:
                version, expected_names = expected[current]
                assert answer["pack"] == current
                assert answer["version"] == version
                assert names(answer) == expected_names
            answers += 1
        await client.ws.close()
        return answers

    for batch in range(3):
        counts = await asyncio.gather(*(run_session(batch * 100 + i) for i in range(12)))
        checked += sum(counts)
    assert checked == 3 * 12 * rounds


# --------------------------------------------------------------------------- hostile names


HOSTILE_NAMES = {
    "..": "invalid_directory_format",
    ".": "invalid_directory_format",
    "/etc": "invalid_directory_format",
    "a/../../b": "invalid_directory_format",
    "../outside": "invalid_directory_format",
    "": "invalid_directory_format",
    "x" * 1000: "invalid_directory_format",
    "de\x00fault": "invalid_directory_format",
    "default/": "invalid_directory_format",
    "escape": "pack_outside_root",
}


@pytest.fixture
def outside(tmp_path: Path, packs_root: Path) -> Path:
    """A pack-shaped folder outside the root, linked into it as ``escape``."""
    folder = write_pack(tmp_path, "outside", ["OutsideSecret"])
    (packs_root / "escape").symlink_to(folder, target_is_directory=True)
    return folder


async def test_hostile_pack_names_are_refused_unread_and_the_session_keeps_working(
    make_server: MakeServer, outside: Path, tmp_path: Path
) -> None:
    server = await make_server(reload_limit=100)
    absolute = str(outside)
    cache = server.app[PACKS].cache
    before = cache.stats
    client = await server.connect()
    for name, code in {**HOSTILE_NAMES, absolute: "invalid_directory_format"}.items():
        error = await client.request(
            {"type": "session.characters.reload", "pack": name, "event_id": "h"}
        )
        assert error["type"] == "error", name
        assert error["error"]["code"] == code, name
        assert error["error"]["event_id"] == "h"
        text = str(error)
        if name != absolute:  # (that one quotes the client's own words back)
            assert str(tmp_path) not in text
        assert "OutsideSecret" not in text
    # Nothing was loaded: no cache hit, no miss, and the session still has its pack.
    assert cache.stats == before
    listed = await client.list()
    assert names(listed) == list(DEFAULT_NAMES)
    assert (await client.reload("second"))["type"] == "session.characters.reloaded"


async def test_hostile_pack_files_are_never_executed(
    server: Server, packs_root: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "executed.marker"
    payload = (
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
        'CHARACTER_NAME = "Mallory"\n'
    )
    folder = packs_root / "hostile"
    folder.mkdir()
    (folder / "mallory.py").write_text(payload)
    (folder / "__init__.py").write_text(payload)
    (folder / "ok.toml").write_text(character_toml("Trent"))
    client = await server.connect()
    # A first build loads what building and answering need; the hostile one adds nothing.
    assert names(await client.reload("second")) == list(SECOND_NAMES)
    modules_before = set(sys.modules)
    reloaded = await client.reload("hostile")
    assert names(reloaded) == ["Trent"]
    mallory = {error["code"] for error in reloaded["errors"] if error["path"] == "mallory.py"}
    assert "CHR102" in mallory
    assert not marker.exists()
    assert set(sys.modules) == modules_before


# --------------------------------------------------------------------------- bad frames


@pytest.mark.parametrize(
    ("frame", "event_id", "fragment"),
    [
        ("{not json", None, "malformed JSON"),
        ("[1, 2]", None, "JSON object"),
        ('{"event_id": "n1"}', "n1", "no 'type'"),
        ('{"type": "conversation.item.truncate", "event_id": "u1"}', "u1", "unknown event type"),
        ('{"type": "session.update", "event_id": "m1"}', "m1", "'session' is required"),
        ('{"type": "session.characters.reload", "event_id": "m2"}', "m2", "pack"),
        ('{"type": "session.update", "session": {"voice": 5}, "event_id": "t1"}', "t1", "voice"),
    ],
)
async def test_invalid_frames_get_an_invalid_event_error_and_the_session_stays_open(
    server: Server, frame: str, event_id: str | None, fragment: str
) -> None:
    client = await server.connect()
    await client.send_raw(frame)
    error = await client.receive()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["code"] == "invalid_event"
    assert error["error"]["event_id"] == event_id
    assert fragment in error["error"]["message"]
    assert names(await client.list()) == list(DEFAULT_NAMES)


async def test_binary_frames_get_an_error_and_the_session_stays_open(server: Server) -> None:
    client = await server.connect()
    await client.ws.send_bytes(b"\x00\x01")
    error = await client.receive()
    assert error["error"]["code"] == "invalid_event"
    assert "binary" in error["error"]["message"]
    assert names(await client.list()) == list(DEFAULT_NAMES)


async def test_oversized_frame_closes_only_that_connection_with_1009(
    make_server: MakeServer,
) -> None:
    server = await make_server(max_message_bytes=2048)
    before = await server.metrics()
    bystander = await server.connect()
    offender = await server.connect()
    await offender.send_raw('{"type": "session.characters.list", "pad": "' + "x" * 4096 + '"}')
    closed = await offender.close_message()
    assert closed.type is aiohttp.WSMsgType.CLOSE
    assert closed.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    assert names(await bystander.list()) == list(DEFAULT_NAMES)
    await until(lambda: len(server.app[SESSIONS]) == 1, "the offender's session to end")
    closes = "unmute_websocket_closes_total"
    after = await server.metrics()
    assert sample_in(after, closes, {"code": "1009"}) == (
        sample_in(before, closes, {"code": "1009"}) + 1
    )
    # Just under the limit is fine.
    fine = await server.connect()
    await fine.send_raw('{"type": "session.characters.list", "pad": "' + "x" * 1900 + '"}')
    assert (await fine.receive())["type"] == "session.characters.listed"


def padded_list_event(size: int) -> str:
    """A ``session.characters.list`` event of exactly ``size`` bytes."""
    head, tail = '{"type": "session.characters.list", "pad": "', '"}'
    return head + "x" * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize("compress", [0, 15], ids=["plain", "deflate"])
async def test_max_message_bytes_is_the_largest_message_accepted(
    make_server: MakeServer, compress: int
) -> None:
    limit = 2048
    server = await make_server(max_message_bytes=limit, ws_compression=bool(compress))
    fits = await server.connect(compress=compress)
    assert fits.ws.compress == compress
    await fits.send_raw(padded_list_event(limit))
    assert (await fits.receive())["type"] == "session.characters.listed"
    over = await server.connect(compress=compress)
    await over.send_raw(padded_list_event(limit + 1))
    closed = await over.close_message()
    assert closed.type is aiohttp.WSMsgType.CLOSE
    assert closed.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    assert names(await fits.list()) == list(DEFAULT_NAMES)


# --------------------------------------------------------------------------- ends


async def test_client_vanishing_mid_reload_logs_no_error_and_leaks_nothing(
    server: Server,
    packs_root: Path,
    raw_sockets: list[RawWebSocket],
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_pack(packs_root, "slow", [f"Slow{index:03d}" for index in range(400)])
    caplog.set_level(logging.DEBUG)
    assert server.client.port is not None
    raw = await RawWebSocket.connect("127.0.0.1", server.client.port)
    raw_sockets.append(raw)
    raw.send_text('{"type": "session.characters.reload", "pack": "slow"}')
    await raw.writer.drain()
    cache = server.app[PACKS].cache
    # A miss is counted once the files are read and before they are parsed: mid-reload.
    await until(lambda: cache.stats.misses == 1, "the reload to start")
    raw.abort()
    # The handler waits for the load, so once the session is gone the load is done.
    await wait_for_no_sessions(server)
    assert cache.stats.parses == 1
    await wait_until_sessions_are_freed()

    # The finished load's future lets go of the registry within a few loop turns.
    def only_the_default_is_alive() -> bool:
        gc.collect()
        return cache.live_registries() == 1

    await until(only_the_default_is_alive, "the pack to be freed", polls=400)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    client = await server.connect()
    assert names(await client.list()) == list(DEFAULT_NAMES)


async def test_a_peer_that_stops_answering_pings_is_dropped(
    make_server: MakeServer, raw_sockets: list[RawWebSocket]
) -> None:
    server = await make_server(heartbeat_seconds=0.05)
    assert server.client.port is not None
    mute = await RawWebSocket.connect("127.0.0.1", server.client.port)
    raw_sockets.append(mute)
    await until(lambda: len(server.app[SESSIONS]) == 1, "the session to open")
    await until(lambda: len(server.app[SESSIONS]) == 0, "the mute peer to be dropped")
    opcode, payload = await mute.read_frame()
    assert (opcode, json.loads(payload)["type"]) == (0x1, "session.created")
    opcode, _payload = await mute.read_frame()
    assert opcode == 0x9  # what it never answered: a ping
    assert await mute.reader.read() == b""  # and then the server hung up


async def test_server_shutdown_closes_every_session_with_1001(
    make_test_server: MakeTestServer,
) -> None:
    test_server = await make_test_server()
    counter = "unmute_websocket_closes_total"
    before = sample_in(generate_latest().decode(), counter, {"code": "1001"})
    async with aiohttp.ClientSession() as http:
        sockets = [await http.ws_connect(test_server.make_url("/v1/realtime")) for _ in range(3)]
        clients = [await opened(ws) for ws in sockets]
        await clients[0].reload("second")
        waits = [asyncio.ensure_future(client.close_message()) for client in clients]
        await test_server.close()
        closes = await asyncio.gather(*waits)
    assert [close.type for close in closes] == [aiohttp.WSMsgType.CLOSE] * 3
    assert [close.data for close in closes] == [aiohttp.WSCloseCode.GOING_AWAY] * 3
    # The server is gone, so its counters are read straight from the process's registry.
    assert sample_in(generate_latest().decode(), counter, {"code": "1001"}) == before + 3


async def test_over_the_session_limit_an_error_then_close_1013(make_server: MakeServer) -> None:
    server = await make_server(max_sessions=2)
    first = await server.connect()
    second = await server.connect()
    # Refused before its session starts: no session.created, an error at once.
    third = Realtime(await server.client.ws_connect("/v1/realtime"))
    refused = await third.receive()
    assert refused["error"]["code"] == "too_many_sessions"
    closed = await third.close_message()
    assert closed.data == aiohttp.WSCloseCode.TRY_AGAIN_LATER
    assert names(await first.list()) == list(DEFAULT_NAMES)
    await second.ws.close()
    await first.ws.close()
    await wait_for_no_sessions(server)
    fourth = await server.connect()
    assert names(await fourth.list()) == list(DEFAULT_NAMES)


@pytest.mark.slow
async def test_a_thousand_sessions_later_nothing_is_left_alive(server: Server) -> None:
    cache = server.app[PACKS].cache
    baseline = cache.live_registries()
    packs = ("second", "broken", "default")
    for cycle in range(1000):
        client = await server.connect()
        reloaded = await client.reload(packs[cycle % 3])
        assert reloaded["type"] == "session.characters.reloaded"
        await client.ws.close()
    await wait_for_no_sessions(server)
    await wait_until_sessions_are_freed()
    assert len(server.app[SESSIONS]) == 0
    assert cache.live_registries() == baseline == 1
    health = await server.get_json("/v1/health")
    assert health["sessions"] == 0


async def test_a_ping_flood_then_a_reset_is_logged_at_debug_at_most(
    serve_app: Serve, raw_sockets: list[RawWebSocket], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    served = await serve_app()
    for _ in range(5):
        raw = await RawWebSocket.connect("127.0.0.1", served.port, receive_buffer=16 * 1024)
        raw_sockets.append(raw)
        await until(lambda: len(served.app[SESSIONS]) == 1, "the session to open")
        # Pings it never reads the pongs of, so the pongs pile up; then it resets.
        for _ in range(20_000):
            raw.send_frame(0x9, b"p" * 125)
        await raw.writer.drain()
        raw.abort()
        await until(lambda: len(served.app[SESSIONS]) == 0, "the session to end")
    loud = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert loud == []


async def test_a_handler_bug_is_answered_internal_error_and_the_session_carries_on(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A real connection on a real socket, whose prompt source reads news through a clock
    # that fails after its first reading: a bug in a collaborator, met while rendering a
    # character's prompt.
    news_file = tmp_path / "news.txt"
    news_file.write_text("Tides are high today\n", encoding="utf-8")
    readings = [0.0]

    def failing_clock() -> float:
        if readings:
            return readings.pop()
        raise OSError("the clock is gone")

    prompt_source = PromptSource(ZoneInfo("UTC"), news=NewsFeed(news_file, clock=failing_clock))
    cache = RegistryCache()
    default = cache.load_sync(settings.packs_root / "default", "default")
    root = OpenFolder.open(settings.packs_root)
    packs = Packs(root, "default", cache, default, CacheMetrics(cache))

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        assert request.transport is not None
        session = Session(default, ReloadBudget(10, 10.0, 0.0), prompt_source=prompt_source)
        outbox = Outbox(ws, request.transport, limit=256, byte_limit=1 << 24, grace=10.0)
        await Connection(ws, session, outbox, settings, packs, hub=SessionHub()).serve()
        return ws

    app = web.Application()
    app.router.add_get("/v1/realtime", handler)
    client = await opened(await (await aiohttp_client(app)).ws_connect("/v1/realtime"))
    try:
        await client.send(
            {"type": "session.update", "event_id": "evt_1", "session": {"voice": "Alice"}}
        )
        failed = await client.receive()
        assert failed["type"] == "error"
        assert failed["error"]["type"] == "server_error"
        assert failed["error"]["code"] == "internal_error"
        assert failed["error"]["event_id"] == "evt_1"
        assert "handling session.update failed" in caplog.text
        # The session carries on, unchanged by the failed update.
        assert names(await client.list()) == list(DEFAULT_NAMES)
        updated = await client.update(instructions="Be brief.")
        assert updated["session"]["voice"] is None
        assert updated["session"]["instructions"] == "Be brief."
    finally:
        packs.cache_metrics.close()
        root.close()
