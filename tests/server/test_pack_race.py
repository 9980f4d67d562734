"""Swap races against reloads, through the real server: nothing outside the root is read.

A pack author who can write to their own pack (or to the packs root) flips a folder between a
real directory and a symlink to a folder outside the root while sessions reload it. Whatever
the timing, a reload answers with characters from inside the root, or with a clean error; never
a character from outside and never ``internal_error``.
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.server.conftest import MakeServer, Realtime, write_pack

#: How long each race runs, and the most reloads it makes: a bound in time and in count.
RACE_SECONDS = 1.5
MAX_RELOADS = 4000
CLIENTS = 4
LINKED_FILES = 40

#: What a reload may answer while its pack is being swapped under it.
#: How long the swapper rests after every second flip.
PAUSE_SECONDS = 0.005

CLEAN_ERRORS = {"directory_not_found", "pack_outside_root", "pack_changed_during_read"}


class Swapper(threading.Thread):
    """Calls ``flip`` in a loop until stopped; a flip must leave things as they were after two."""

    def __init__(self, flip: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.flip = flip
        self.flips = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.flip()
            self.flips += 1
            if self.flips % 2 == 0:
                # A breath after each round trip, so some reads fall between flips on a busy
                # machine too (the test needs both: reads raced and reads completed).
                self.stopping.wait(PAUSE_SECONDS)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        assert not self.is_alive()
        if self.flips % 2:
            self.flip()


def flipper(place: Path, link: Path, parked: Path) -> Callable[[], None]:
    """Swap ``place`` between the real folder there and the symlink kept at ``link``."""
    state = {"real": True}

    def flip() -> None:
        if state["real"]:
            os.rename(place, parked)
            os.rename(link, place)
        else:
            os.rename(place, link)
            os.rename(parked, place)
        state["real"] = not state["real"]

    return flip


async def race(clients: list[Realtime], pack: str) -> collections.Counter[str]:
    """Reload ``pack`` from every client until the time or count bound; every answer's kind
    (``ok`` or the error code) counted, and every character name seen checked."""
    outcomes: collections.Counter[str] = collections.Counter()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RACE_SECONDS

    async def one(client: Realtime) -> None:
        while loop.time() < deadline and outcomes.total() < MAX_RELOADS:
            answer = await client.reload(pack)
            if answer["type"] == "session.characters.reloaded":
                seen = [character["name"] for character in answer["characters"]]
                outcomes["ok"] += 1
            else:
                outcomes[answer["error"]["code"]] += 1
                details = answer["error"].get("details") or {}
                seen = [character["name"] for character in details.get("characters", [])]
            assert not [name for name in seen if name.startswith("Outside")], answer
            assert "Outside" not in str(answer)

    await asyncio.gather(*(one(client) for client in clients))
    return outcomes


@pytest.mark.slow
async def test_a_pack_flipped_to_a_link_out_of_the_root_never_loads_outside_characters(
    make_server: MakeServer, packs_root: Path, tmp_path: Path
) -> None:
    write_pack(packs_root, "flip", ["Inside"])
    outside = write_pack(tmp_path, "outside", ["OutsideSecret"])
    link = packs_root / ".flip-link"
    link.symlink_to(outside, target_is_directory=True)
    server = await make_server(reload_limit=10**6)
    clients = [await server.connect() for _ in range(CLIENTS)]
    swapper = Swapper(flipper(packs_root / "flip", link, packs_root / ".flip-parked"))
    swapper.start()
    try:
        outcomes = await race(clients, "flip")
    finally:
        swapper.stop()
    assert set(outcomes) <= {"ok"} | CLEAN_ERRORS, outcomes
    assert outcomes["ok"] > 0, outcomes
    assert swapper.flips > 10
    # Once the swapping stops, the pack loads as it is.
    assert [c["name"] for c in (await clients[0].reload("flip"))["characters"]] == ["Inside"]


@pytest.mark.slow
async def test_a_folder_inside_a_pack_flipped_to_a_link_out_of_it_is_never_read(
    make_server: MakeServer, packs_root: Path, tmp_path: Path
) -> None:
    pack = write_pack(packs_root, "mid", ["Inside"])
    # Many links through the one folder that is swapped: each is a chance to escape.
    shared = [f"Shared{index:02}" for index in range(LINKED_FILES)]
    write_pack(pack, "sub", shared)
    outside = write_pack(tmp_path, "outside", [])
    for name in shared:
        file_name = f"{name.lower()}.toml"
        (pack / file_name).symlink_to(Path("sub") / file_name)
        text = (pack / "sub" / file_name).read_text().replace("Shared", "OutsideShared")
        (outside / file_name).write_text(text)
    link = pack / ".sub-link"
    link.symlink_to(outside, target_is_directory=True)
    server = await make_server(reload_limit=10**6)
    clients = [await server.connect() for _ in range(CLIENTS)]
    swapper = Swapper(flipper(pack / "sub", link, pack / ".sub-parked"))
    swapper.start()
    started = time.monotonic()
    try:
        outcomes = await race(clients, "mid")
    finally:
        swapper.stop()
    assert time.monotonic() - started < 60
    assert set(outcomes) <= {"ok"} | CLEAN_ERRORS, outcomes
    assert outcomes["ok"] > 0, outcomes
    assert swapper.flips > 10
    reloaded = await clients[0].reload("mid")
    assert [c["name"] for c in reloaded["characters"]] == ["Inside", *shared]


class PackRewriter(threading.Thread):
    """Gives ``a.toml`` then ``z.toml`` version ``n``, for ever larger ``n``, each replaced
    whole by a rename: the folder always holds versions ``(n, n - 1)`` or ``(n, n)``."""

    def __init__(self, pack: Path) -> None:
        super().__init__(daemon=True)
        self.pack = pack
        self.stopping = threading.Event()
        self.template = (pack / "m000.toml").read_text()

    def put(self, file_name: str, name: str) -> None:
        scratch = self.pack / f".{file_name}.new"
        scratch.write_text(self.template.replace("M000", name))
        os.rename(scratch, self.pack / file_name)

    def run(self) -> None:
        version = 0
        while not self.stopping.is_set():
            version += 1
            self.put("a.toml", f"A{version}")
            self.put("z.toml", f"Z{version}")

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        assert not self.is_alive()


@pytest.mark.slow
async def test_a_pack_that_keeps_changing_is_refused_as_changed_and_never_mixed(
    make_server: MakeServer, packs_root: Path
) -> None:
    pack = write_pack(packs_root, "busy", [f"M{index:03}" for index in range(300)])
    rewriter = PackRewriter(pack)
    rewriter.put("a.toml", "A0")
    rewriter.put("z.toml", "Z0")
    server = await make_server(reload_limit=10**6)
    client = await server.connect()
    outcomes: collections.Counter[str] = collections.Counter()
    kept = "default"
    rewriter.start()
    try:
        for _ in range(200):
            answer = await client.reload("busy", event_id="r")
            if answer["type"] == "error":
                assert answer["error"]["code"] == "pack_changed_during_read", answer
                assert answer["error"]["event_id"] == "r"
                assert f"keeps pack {kept!r}" in answer["error"]["message"]
                outcomes["changed"] += 1
                if outcomes["changed"] >= 3:
                    break
                continue
            names = [character["name"] for character in answer["characters"]]
            first, last = int(names[0][1:]), int(names[-1][1:])
            assert first - 1 <= last <= first, (names[0], names[-1])
            outcomes["ok"] += 1
            kept = "busy"
    finally:
        rewriter.stop()
    assert outcomes["changed"] >= 1, outcomes
    assert (await client.list())["pack"] == kept
