"""The Prometheus metrics (DESIGN 6), and nothing else.

Metrics live in prometheus_client's default registry, which ``/metrics`` serves through
``prometheus_async.aio.web.server_stats``. Defining them is the only thing this package does
at import time. No label holds a session id or any other unbounded value: every label value
comes from a fixed table below, and anything outside it is counted under ``unknown`` or
``other``. Label values are created up front so a scrape shows zeros rather than absences.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from unmute_server.characters.build_worker import BudgetExceeded, BuildFinished, IsolatedBuilder
from unmute_server.characters.diagnostics import CODES, Diagnostic
from unmute_server.characters.registry import CacheStats, RegistryCache
from unmute_server.llm import LLMErrorCode
from unmute_server.protocol.events import CLIENT_EVENT_TYPES

#: ``outcome`` of a reload: swapped in clean, swapped in with diagnostics, kept the old pack
#: because of ``strict``, kept it because nothing loaded, no such pack, refused (bad name,
#: outside the root, rate limit), over its build budget, stopped by shutdown, or a server bug.
RELOAD_OUTCOMES: Final = (
    "ok",
    "partial",
    "strict_rejected",
    "no_valid_characters",
    "not_found",
    "refused",
    "changed",
    "too_costly",
    "stopped",
    "error",
)

#: ``outcome`` of a pack build in a child process.
BUILD_OUTCOMES: Final = ("built", "over_budget", "stopped")

#: WebSocket close codes counted by name; any other code is ``other``.
CLOSE_CODES: Final = {
    1000: "1000",
    1001: "1001",
    1006: "1006",
    1008: "1008",
    1009: "1009",
    1011: "1011",
    1013: "1013",
}

RELOAD_DURATION: Final = Histogram(
    "unmute_reload_duration_seconds",
    "Time from a reload event to its answer, by outcome.",
    ["outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
LOAD_DIAGNOSTICS: Final = Counter(
    "unmute_load_diagnostics",
    "Diagnostics reported by pack loads (start-up and reloads), by code.",
    ["code"],
)
# Gauges are given their multiprocess mode (used only under gunicorn, see metrics_route):
# every worker's open sessions add up to the server's.
ACTIVE_SESSIONS: Final = Gauge(
    "unmute_active_sessions", "Open WebSocket sessions.", multiprocess_mode="livesum"
)
CACHE_HITS: Final = Counter(
    "unmute_registry_cache_hits", "Pack loads answered by a registry already in memory."
)
CACHE_MISSES: Final = Counter(
    "unmute_registry_cache_misses", "Pack loads that had to build a registry."
)
LIVE_REGISTRIES: Final = Gauge(
    "unmute_live_registries",
    "Character registries alive (held by a session or the server).",
    multiprocess_mode="livesum",
)
EVENTS_RECEIVED: Final = Counter(
    "unmute_events_received",
    "Client events received, by type (anything else, including invalid frames: unknown).",
    ["type"],
)
EVENT_LOOP_LAG: Final = Histogram(
    "unmute_event_loop_lag_seconds",
    "How late the event loop wakes a 10 ms sleep: time other work held the loop.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
PACK_BUILDS_IN_PROGRESS: Final = Gauge(
    "unmute_pack_builds_in_progress",
    "Pack builds (registry cache misses) running in child processes right now.",
    multiprocess_mode="livesum",
)
PACK_BUILD_DURATION: Final = Histogram(
    "unmute_pack_build_duration_seconds",
    "Time a pack build took in its child process (start to answer), by outcome.",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
PACK_BUILDS_OVER_BUDGET: Final = Counter(
    "unmute_pack_builds_over_budget",
    "Pack builds stopped by their budget, by the bound exceeded (cpu, memory, time, died).",
    ["limit"],
)
#: ``status`` of a finished LLM response.
RESPONSE_STATUSES: Final = ("completed", "cancelled", "failed")

#: Seconds; an answer is spoken, so anything past a second is already a noticeable pause.
_LLM_LATENCY_BUCKETS: Final = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)

LLM_FIRST_TOKEN: Final = Histogram(
    "unmute_llm_time_to_first_token_seconds",
    "Time from response.create to the LLM's first text, per response that got any text.",
    buckets=_LLM_LATENCY_BUCKETS,
)
LLM_RESPONSE_DURATION: Final = Histogram(
    "unmute_llm_response_duration_seconds",
    "Time from response.create to the end of the LLM's answer, by status.",
    ["status"],
    buckets=(*_LLM_LATENCY_BUCKETS, 60.0, 120.0),
)
LLM_FAILURES: Final = Counter(
    "unmute_llm_failures",
    "Responses that failed, by code (llm_unavailable: asked for with no LLM configured).",
    ["code"],
)
WEBSOCKET_CLOSES: Final = Counter(
    "unmute_websocket_closes",
    "Closed sessions by WebSocket close code (1008 too slow, 1009 too large, 1013 full).",
    ["code"],
)

for _outcome in RELOAD_OUTCOMES:
    RELOAD_DURATION.labels(_outcome)
for _code in CODES:
    LOAD_DIAGNOSTICS.labels(_code)
for _label in (*CLOSE_CODES.values(), "other"):
    WEBSOCKET_CLOSES.labels(_label)
for _build_outcome in BUILD_OUTCOMES:
    PACK_BUILD_DURATION.labels(_build_outcome)
for _exceeded in BudgetExceeded:
    PACK_BUILDS_OVER_BUDGET.labels(_exceeded.value)
for _status in RESPONSE_STATUSES:
    LLM_RESPONSE_DURATION.labels(_status)
for _error in LLMErrorCode:
    LLM_FAILURES.labels(_error.value)

#: The counter of each known type (and ``unknown``), bound once: ``labels()`` on every event
#: costs a lock and a dictionary lookup of its own. Binding also makes every type show at 0.
_RECEIVED_BY_TYPE: Final = {
    event_type: EVENTS_RECEIVED.labels(event_type) for event_type in CLIENT_EVENT_TYPES
}
_RECEIVED_UNKNOWN: Final = EVENTS_RECEIVED.labels("unknown")

#: Every cache an application has opened and not closed; the gauge sums them at scrape.
_caches: weakref.WeakSet[RegistryCache] = weakref.WeakSet()
#: Every builder an application has opened and not closed; the gauge sums them at scrape.
_builders: weakref.WeakSet[IsolatedBuilder] = weakref.WeakSet()


def _live_registries() -> float:
    return sum(cache.live_registries() for cache in list(_caches))


def _builds_running() -> float:
    return sum(builder.running for builder in list(_builders))


LIVE_REGISTRIES.set_function(_live_registries)
PACK_BUILDS_IN_PROGRESS.set_function(_builds_running)


def publish_computed_gauges() -> None:
    """Write the gauges computed at scrape to their stored values, for multiprocess mode,
    where a scrape reads every worker's stored values instead of calling the functions."""
    LIVE_REGISTRIES.set(_live_registries())
    PACK_BUILDS_IN_PROGRESS.set(_builds_running())


def builder_opened(builder: IsolatedBuilder) -> None:
    """Count ``builder``'s running builds in the in-progress gauge."""
    _builders.add(builder)


def builder_closed(builder: IsolatedBuilder) -> None:
    _builders.discard(builder)


def pack_build_finished(finished: BuildFinished) -> None:
    """One build done: its duration by outcome, and the bound that stopped it if any."""
    PACK_BUILD_DURATION.labels(finished.outcome).observe(finished.seconds)
    if finished.exceeded is not None:
        PACK_BUILDS_OVER_BUDGET.labels(finished.exceeded.value).inc()


def event_received(event_type: str | None) -> None:
    """Count one received client event under its type, or ``unknown``."""
    _RECEIVED_BY_TYPE.get(event_type or "", _RECEIVED_UNKNOWN).inc()


def llm_first_token(seconds: float) -> None:
    LLM_FIRST_TOKEN.observe(seconds)


def llm_response_finished(seconds: float, status: str) -> None:
    """One finished response; ``status`` is one of :data:`RESPONSE_STATUSES`."""
    LLM_RESPONSE_DURATION.labels(status).observe(seconds)


def llm_failed(code: LLMErrorCode) -> None:
    LLM_FAILURES.labels(code.value).inc()


def diagnostics_reported(diagnostics: tuple[Diagnostic, ...]) -> None:
    for diagnostic in diagnostics:
        LOAD_DIAGNOSTICS.labels(diagnostic.code).inc()


def session_closed(close_code: int | None) -> None:
    label = "1006" if close_code is None else CLOSE_CODES.get(close_code, "other")
    WEBSOCKET_CLOSES.labels(label).inc()


class CacheMetrics:
    """Carries a cache's own counters over to the Prometheus counters.

    The cache counts hits and misses itself (under its lock, in worker threads);
    :meth:`update`, called on the loop after each load, adds what changed since the last
    call. Counters only ever grow, even when several applications share the process.
    """

    __slots__ = ("_cache", "_seen")

    def __init__(self, cache: RegistryCache) -> None:
        self._cache = cache
        self._seen = CacheStats(0, 0, 0)
        _caches.add(cache)

    def update(self) -> None:
        stats = self._cache.stats
        CACHE_HITS.inc(max(0, stats.hits - self._seen.hits))
        CACHE_MISSES.inc(max(0, stats.misses - self._seen.misses))
        self._seen = stats

    def close(self) -> None:
        """Stop counting this cache's live registries (the application is done with it)."""
        self.update()
        _caches.discard(self._cache)


# --------------------------------------------------------------------------- voice

#: ``engine`` label values: the implementations of the speech interfaces.
VOICE_ENGINES: Final = ("embedded", "kyutai", "openai")
#: ``stage`` of a voice failure: speech-to-text, text-to-speech, or the session's audio buffer.
VOICE_STAGES: Final = ("stt", "tts", "buffer")
#: ``code`` of a voice failure; any other is ``other``.
VOICE_FAILURE_CODES: Final = (
    "voice_engine_unavailable",
    "voice_engine_timeout",
    "voice_engine_error",
    "voice_engine_bad_response",
    "voice_unsupported",
    "invalid_audio",
    "audio_buffer_full",
    "engine_slower_than_real_time",
    "internal_error",
)

_VOICE_LATENCY_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)
_RTF_BUCKETS: Final = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0)

TTS_FIRST_AUDIO: Final = Histogram(
    "unmute_tts_time_to_first_audio_seconds",
    "Time from an answer's first text chunk to its first audio, by engine.",
    ["engine"],
    buckets=_VOICE_LATENCY_BUCKETS,
)
TTS_REAL_TIME_FACTOR: Final = Histogram(
    "unmute_tts_real_time_factor",
    "Seconds spent per second of audio spoken, per completed answer, by engine.",
    ["engine"],
    buckets=_RTF_BUCKETS,
)
STT_FIRST_PARTIAL: Final = Histogram(
    "unmute_stt_time_to_first_partial_seconds",
    "Time from a turn's start to its first partial transcript, by engine.",
    ["engine"],
    buckets=_VOICE_LATENCY_BUCKETS,
)
STT_FINAL: Final = Histogram(
    "unmute_stt_time_to_final_seconds",
    "Time from a turn's end (end of speech or commit) to its final transcript, by engine.",
    ["engine"],
    buckets=_VOICE_LATENCY_BUCKETS,
)
STT_REAL_TIME_FACTOR: Final = Histogram(
    "unmute_stt_real_time_factor",
    "Seconds spent decoding and transcribing per second of audio heard, per turn, by engine.",
    ["engine"],
    buckets=_RTF_BUCKETS,
)
VOICE_FAILURES: Final = Counter(
    "unmute_voice_failures",
    "Voice problems reported to clients, by stage and code.",
    ["stage", "code"],
)
BARGE_INS: Final = Counter(
    "unmute_barge_ins",
    "Spoken answers stopped because the person started speaking.",
)

for _engine in VOICE_ENGINES:
    TTS_FIRST_AUDIO.labels(_engine)
    TTS_REAL_TIME_FACTOR.labels(_engine)
    STT_REAL_TIME_FACTOR.labels(_engine)
    STT_FIRST_PARTIAL.labels(_engine)
    STT_FINAL.labels(_engine)
for _stage in VOICE_STAGES:
    for _voice_code in (*VOICE_FAILURE_CODES, "other"):
        VOICE_FAILURES.labels(_stage, _voice_code)


def _engine_label(engine: str) -> str:
    return engine if engine in VOICE_ENGINES else "other"


def tts_first_audio(engine: str) -> Callable[[float], None]:
    """An observer of one answer's time to first audio on ``engine``."""
    return TTS_FIRST_AUDIO.labels(_engine_label(engine)).observe


def tts_rtf(engine: str) -> Callable[[float], None]:
    """An observer of one answer's real-time factor on ``engine``."""
    return TTS_REAL_TIME_FACTOR.labels(_engine_label(engine)).observe


def stt_rtf(engine: str) -> Callable[[float], None]:
    """An observer of one turn's real-time factor on ``engine``."""
    return STT_REAL_TIME_FACTOR.labels(_engine_label(engine)).observe


def stt_first_partial(engine: str) -> Callable[[float], None]:
    """An observer of a turn's time to its first partial transcript on ``engine``."""
    return STT_FIRST_PARTIAL.labels(_engine_label(engine)).observe


def stt_final(engine: str) -> Callable[[float], None]:
    """An observer of a turn's time from its end to its final transcript on ``engine``."""
    return STT_FINAL.labels(_engine_label(engine)).observe


def voice_failed(stage: str, code: str) -> None:
    """Count one voice problem; unknown stages and codes are ``other``."""
    stage_label = stage if stage in VOICE_STAGES else "tts"
    code_label = code if code in VOICE_FAILURE_CODES else "other"
    VOICE_FAILURES.labels(stage_label, code_label).inc()


def barge_in() -> None:
    """Count one spoken answer stopped by the person speaking."""
    BARGE_INS.inc()
