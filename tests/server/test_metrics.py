"""``/metrics``: the documented metrics, with the right deltas after a known sequence.

The metrics live in the process-wide default registry, which other tests' servers also
count into, so every assertion is on the change between two scrapes of ``GET /metrics``.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.server.conftest import Server, sample_in, until
from unmute_server.characters.diagnostics import CODES
from unmute_server.characters.pack import resolve_pack
from unmute_server.protocol.events import CLIENT_EVENT_TYPES
from unmute_server.server.metrics import CLOSE_CODES, RELOAD_OUTCOMES
from unmute_server.server.state import PACKS, SESSIONS


def delta(before: str, after: str, name: str, **labels: str) -> float:
    return sample_in(after, name, labels) - sample_in(before, name, labels)


async def test_metrics_count_a_known_sequence_of_events(server: Server) -> None:
    before = await server.metrics()
    client = await server.connect()
    await until(lambda: len(server.app[SESSIONS]) == 1, "the session to open")
    during = await server.metrics()
    assert delta(before, during, "unmute_active_sessions") == 1

    await client.list()
    await client.update(voice="Alice")
    await client.update(voice="Nobody")
    await client.reload("second")  # ok, a miss
    await client.reload("second")  # ok, a hit
    await client.reload("broken")  # partial
    await client.reload("broken", strict=True)  # strict_rejected
    await client.reload("empty")  # no_valid_characters
    await client.reload("absent")  # not_found
    await client.reload("..")  # refused
    await client.send_raw('{"type": "conversation.item.truncate"}')
    await client.receive()
    await client.send_raw("{oops")
    await client.receive()
    await client.ws.close()
    await until(lambda: len(server.app[SESSIONS]) == 0, "the session to end")
    after = await server.metrics()

    received = "unmute_events_received_total"
    assert delta(before, after, received, type="session.characters.list") == 1
    assert delta(before, after, received, type="session.update") == 2
    assert delta(before, after, received, type="session.characters.reload") == 7
    assert delta(before, after, received, type="unknown") == 2

    reloads = "unmute_reload_duration_seconds_count"
    expected = {
        "ok": 2,
        "partial": 1,
        "strict_rejected": 1,
        "no_valid_characters": 1,
        "not_found": 1,
        "refused": 1,
        "changed": 0,
        "too_costly": 0,
        "stopped": 0,
        "error": 0,
    }
    assert {
        outcome: delta(before, after, reloads, outcome=outcome) for outcome in RELOAD_OUTCOMES
    } == expected

    assert delta(before, after, "unmute_registry_cache_misses_total") == 3  # second broken empty
    assert delta(before, after, "unmute_registry_cache_hits_total") == 2  # second, broken again
    # broken reported twice (partial and strict), empty once.
    diagnostics = "unmute_load_diagnostics_total"
    assert delta(before, after, diagnostics, code="CHR402") == 1
    packs = server.app[PACKS]
    with resolve_pack(packs.root, "broken") as broken:
        broken_codes = {d.code for d in packs.cache.load_sync(broken, "broken").diagnostics}
    for code in broken_codes:
        assert delta(before, after, diagnostics, code=code) >= 2

    assert delta(before, after, "unmute_active_sessions") == 0
    assert delta(before, after, "unmute_websocket_closes_total", code="1000") == 1


async def test_live_registries_gauge_follows_the_sessions_holding_them(server: Server) -> None:
    cache = server.app[PACKS].cache
    text = await server.metrics()
    assert sample_in(text, "unmute_live_registries") == cache.live_registries() == 1
    client = await server.connect()
    await client.reload("second")
    assert sample_in(await server.metrics(), "unmute_live_registries") == 2
    await client.ws.close()
    await until(lambda: len(server.app[SESSIONS]) == 0, "the session to end")
    assert sample_in(await server.metrics(), "unmute_live_registries") == 1


async def test_every_label_value_is_from_a_fixed_table(server: Server) -> None:
    client = await server.connect()
    await client.send_raw('{"type": "made.up.%s"}' % ("x" * 50))
    await client.receive()
    # Close codes a client chooses (any from 3000 to 4999 is legal) count as "other".
    for code in (4321, 3000):
        closing = await server.connect()
        await closing.ws.close(code=code)
    await until(lambda: len(server.app[SESSIONS]) == 1, "the closed sessions to end")
    allowed = {
        "unmute_events_received": ("type", {*CLIENT_EVENT_TYPES, "unknown"}),
        "unmute_reload_duration_seconds": ("outcome", set(RELOAD_OUTCOMES)),
        "unmute_load_diagnostics": ("code", set(CODES)),
        "unmute_websocket_closes": ("code", {*CLOSE_CODES.values(), "other"}),
    }
    families = {f.name: f for f in text_string_to_metric_families(await server.metrics())}
    for name, (label, values) in allowed.items():
        seen = {s.labels[label] for s in families[name].samples if label in s.labels}
        assert seen <= values, name
    for family in families.values():
        if family.name.startswith("unmute_"):
            for found in family.samples:
                assert "session" not in found.labels
