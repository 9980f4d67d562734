"""The embedded speech-to-text, for real: pocketsphinx worker processes on the speech fixtures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable

import numpy as np
import psutil  # type: ignore[import-untyped]  # no stubs in the test extras
import pytest

from tests.voice import speech_fixtures
from unmute_server.voice.audio import Pcm, silence
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.stt.embedded import EmbeddedSpeechToText

FRAME = 480  # 20 ms, as the pipeline feeds


@pytest.fixture
async def stt() -> AsyncIterator[EmbeddedSpeechToText]:
    engine = EmbeddedSpeechToText(max_workers=1)
    yield engine
    await engine.aclose()


async def _transcribe(
    engine: EmbeddedSpeechToText, pcm: Pcm, partials: list[str] | None = None
) -> str:
    heard = [] if partials is None else partials
    transcription = await engine.start("en", heard.append)
    for start in range(0, len(pcm), FRAME):
        await transcription.feed(pcm[start : start + FRAME])
    return await transcription.finish()


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


@pytest.mark.parametrize("read", [speech_fixtures.pcm, speech_fixtures.decoded_opus])
async def test_the_fixture_transcript_holds_the_spoken_words(
    stt: EmbeddedSpeechToText, read: Callable[[str], Pcm]
) -> None:
    transcript = await _transcribe(stt, read("hello_coffee"))
    words = transcript.split()
    assert {"hello", "how", "are", "you", "coffee", "please"} <= set(words), transcript


async def test_partials_arrive_while_the_person_speaks_and_grow(stt: EmbeddedSpeechToText) -> None:
    pcm = speech_fixtures.pcm("hello_coffee")
    partials: list[str] = []
    transcription = await stt.start("en", partials.append)
    for start in range(0, len(pcm), FRAME):
        await transcription.feed(pcm[start : start + FRAME])
    before_finish = list(partials)
    final = await transcription.finish()
    assert len(before_finish) >= 3, before_finish
    assert all(partial.strip() for partial in before_finish)
    assert len(before_finish[-1].split()) > len(before_finish[0].split())
    assert partials == before_finish  # finish() gives the final, not one more partial
    assert "coffee" in final.split()


async def test_a_second_utterance_is_transcribed_exactly_as_the_first(
    stt: EmbeddedSpeechToText,
) -> None:
    """One worker, so one decoder: the normalisation must not carry from one utterance on."""
    pcm = speech_fixtures.pcm("hello_coffee")
    first_partials: list[str] = []
    first = await _transcribe(stt, pcm, first_partials)
    # Something else in between, louder, which would move a carried-over normalisation.
    loud = np.clip(speech_fixtures.pcm("hello_coffee")[::-1] * 3, -1, 1).astype(np.float32)
    await _transcribe(stt, loud)
    again_partials: list[str] = []
    again = await _transcribe(stt, pcm, again_partials)
    assert len(stt.worker_pids) == 1
    assert again == first
    assert again_partials == first_partials


async def test_nothing_said_gives_an_empty_transcript(stt: EmbeddedSpeechToText) -> None:
    assert await _transcribe(stt, speech_fixtures.pcm("quiet")) == ""


@pytest.mark.parametrize("language", ["fr", "de", "es", "ja"])
async def test_a_language_other_than_english_is_refused_as_unsupported(
    stt: EmbeddedSpeechToText, language: str
) -> None:
    with pytest.raises(VoiceEngineError) as raised:
        await stt.start(language, lambda text: None)
    assert raised.value.code is VoiceErrorCode.UNSUPPORTED
    assert "English" in raised.value.message
    assert repr(language) in raised.value.message
    assert stt.worker_pids == frozenset()  # refused before any model is loaded


@pytest.mark.parametrize("language", ["en", "en-US", "EN"])
async def test_english_in_any_spelling_is_accepted(
    stt: EmbeddedSpeechToText, language: str
) -> None:
    transcription = await stt.start(language, lambda text: None)
    await transcription.aclose()


async def test_aclose_mid_utterance_leaves_no_worker_busy(stt: EmbeddedSpeechToText) -> None:
    pcm = speech_fixtures.pcm("hello_coffee")
    transcription = await stt.start("en", lambda text: None)
    for start in range(0, len(pcm) // 2, FRAME):
        await transcription.feed(pcm[start : start + FRAME])
    (pid,) = stt.worker_pids
    assert stt.busy == 1
    await transcription.aclose()
    assert stt.busy == 0
    await transcription.aclose()  # idempotent
    await transcription.feed(pcm[:FRAME])  # late audio of an abandoned utterance: ignored
    # The same worker serves the next utterance, from a clean start.
    assert "coffee" in (await _transcribe(stt, pcm)).split()
    assert stt.worker_pids == {pid}


async def test_aclose_while_a_feed_is_in_flight_waits_for_it(stt: EmbeddedSpeechToText) -> None:
    pcm = speech_fixtures.pcm("hello_coffee")
    transcription = await stt.start("en", lambda text: None)
    feeding = asyncio.create_task(transcription.feed(pcm))  # the whole utterance at once
    await asyncio.sleep(0)
    await transcription.aclose()
    await feeding
    assert stt.busy == 0
    assert "coffee" in (await _transcribe(stt, pcm)).split()


async def test_a_cancelled_feed_discards_its_worker_and_the_next_utterance_works(
    stt: EmbeddedSpeechToText,
) -> None:
    pcm = speech_fixtures.pcm("hello_coffee")
    transcription = await stt.start("en", lambda text: None)
    (pid,) = stt.worker_pids
    feeding = asyncio.create_task(transcription.feed(np.tile(pcm, 4)))
    await asyncio.sleep(0.05)
    feeding.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await feeding
    await transcription.aclose()
    assert stt.busy == 0
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert "coffee" in (await _transcribe(stt, pcm)).split()


async def test_a_worker_that_dies_is_reported_unavailable_and_replaced(
    stt: EmbeddedSpeechToText,
) -> None:
    transcription = await stt.start("en", lambda text: None)
    (pid,) = stt.worker_pids
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(VoiceEngineError) as raised:
        await transcription.feed(silence(0.1))
    assert raised.value.code is VoiceErrorCode.UNAVAILABLE
    assert stt.busy == 0
    assert "coffee" in (await _transcribe(stt, speech_fixtures.pcm("hello_coffee"))).split()
    assert pid not in stt.worker_pids


async def test_when_every_worker_is_busy_start_waits_then_fails_as_unavailable() -> None:
    engine = EmbeddedSpeechToText(max_workers=1, busy_timeout=0.3)
    try:
        holding = await engine.start("en", lambda text: None)
        with pytest.raises(VoiceEngineError) as raised:
            await engine.start("en", lambda text: None)
        assert raised.value.code is VoiceErrorCode.UNAVAILABLE
        assert "busy" in raised.value.message
        waiting = asyncio.create_task(engine.start("en", lambda text: None))
        await asyncio.sleep(0.05)
        await holding.aclose()  # the waiting start gets the worker it frees
        await (await waiting).aclose()
        assert engine.busy == 0
    finally:
        await engine.aclose()


async def test_probe_loads_the_model_and_aclose_ends_every_worker() -> None:
    engine = EmbeddedSpeechToText(max_workers=2)
    assert await engine.probe()
    pids = engine.worker_pids
    assert pids
    assert _children() >= pids
    await engine.aclose()
    assert not await engine.probe()
    assert not (_children() & pids)
    with pytest.raises(VoiceEngineError) as raised:
        await engine.start("en", lambda text: None)
    assert raised.value.code is VoiceErrorCode.UNAVAILABLE


async def test_workers_run_at_a_lower_priority_than_the_server() -> None:
    engine = EmbeddedSpeechToText(max_workers=1, niceness=5)
    try:
        assert await engine.probe()
        own = psutil.Process().nice()
        niceness = {psutil.Process(pid).nice() for pid in engine.worker_pids}
        assert niceness == {min(19, own + 5)}
    finally:
        await engine.aclose()


async def test_niceness_zero_keeps_the_workers_at_the_server_priority() -> None:
    engine = EmbeddedSpeechToText(max_workers=1, niceness=0)
    try:
        assert await engine.probe()
        own = psutil.Process().nice()
        assert {psutil.Process(pid).nice() for pid in engine.worker_pids} == {own}
    finally:
        await engine.aclose()
