"""The embedded text-to-speech, for real: espeak-ng subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import psutil  # type: ignore[import-untyped]  # no stubs in the test extras
import pytest

from unmute_server.voice.audio import SAMPLE_RATE, Pcm, duration
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.tts.embedded import (
    MAX_CHUNK_CHARS,
    EmbeddedTextToSpeech,
    espeak_voice,
    speakable,
    split_chunk,
)
from unmute_server.voice.tts.engine import Synthesis, VoiceChoice


def _voice(embedded: str) -> VoiceChoice:
    return VoiceChoice(kyutai=None, embedded=embedded, openai="alloy")


@pytest.fixture
async def tts() -> AsyncIterator[EmbeddedTextToSpeech]:
    engine = EmbeddedTextToSpeech()
    yield engine
    await engine.aclose()


async def _speak(synthesis: Synthesis, *chunks: str) -> list[tuple[int, Pcm]]:
    for chunk in chunks:
        await synthesis.send_text(chunk)
    await synthesis.end()
    return [(spoken.chunk_index, spoken.pcm) async for spoken in synthesis.audio()]


def _espeak_children() -> list[psutil.Process]:
    return [child for child in psutil.Process().children() if "espeak" in child.name()]


async def test_text_becomes_24khz_float_audio_with_chunk_indexes_in_order(
    tts: EmbeddedTextToSpeech,
) -> None:
    synthesis = await tts.start(_voice("en+f3"), "en")
    pieces = await _speak(synthesis, "Hello there.", "How are you today?", "Goodbye.")
    indexes = [index for index, _ in pieces]
    assert indexes == sorted(indexes)
    assert set(indexes) == {0, 1, 2}
    pcm = np.concatenate([piece for _, piece in pieces])
    assert pcm.dtype == np.float32
    assert pcm.ndim == 1
    assert duration(pcm) > 0.5
    assert float(np.max(np.abs(pcm))) <= 1.0
    assert float(np.sqrt(np.mean(pcm**2))) > 0.01  # speech, not silence
    assert SAMPLE_RATE == 24_000


async def test_two_voices_sound_different(tts: EmbeddedTextToSpeech) -> None:
    text = "The weather is lovely today."
    first = await _speak(await tts.start(_voice("en+f3"), "en"), text)
    second = await _speak(await tts.start(_voice("en+m3"), "en"), text)
    one = np.concatenate([pcm for _, pcm in first])
    other = np.concatenate([pcm for _, pcm in second])
    assert len(one) != len(other) or not np.allclose(one, other, atol=1e-3)


async def test_a_language_completes_a_voice_that_names_none(tts: EmbeddedTextToSpeech) -> None:
    text = "Bonjour"
    french = await _speak(await tts.start(_voice("+m2"), "fr"), text)
    english = await _speak(await tts.start(_voice("+m2"), "en"), text)
    assert french
    assert english
    assert [len(pcm) for _, pcm in french] != [len(pcm) for _, pcm in english]


@pytest.mark.parametrize(
    ("spec", "language", "expected"),
    [("en+f3", "fr", "en+f3"), ("+m2", "fr", "fr+m2"), ("", "de", "de"), ("EN-US", "en", "en-us")],
)
def test_espeak_voice_keeps_a_language_it_names_and_adds_one_it_lacks(
    spec: str, language: str, expected: str
) -> None:
    assert espeak_voice(spec, language) == expected


@pytest.mark.parametrize("spec", ["-w /tmp/x", "en; rm -rf /", "../../voice", "en+f3 --stdout"])
def test_a_voice_that_is_not_an_espeak_voice_name_is_rejected(spec: str) -> None:
    with pytest.raises(VoiceEngineError) as raised:
        espeak_voice(spec, "en")
    assert raised.value.code is VoiceErrorCode.REJECTED


async def test_an_unknown_voice_is_reported_as_rejected(tts: EmbeddedTextToSpeech) -> None:
    synthesis = await tts.start(_voice("zz+m2"), "en")
    with pytest.raises(VoiceEngineError) as raised:
        await _speak(synthesis, "Hello.")
    assert raised.value.code is VoiceErrorCode.REJECTED
    assert "voice does not exist" in raised.value.message


async def test_hostile_chunks_are_spoken_never_interpreted(
    tts: EmbeddedTextToSpeech, tmp_path: Path
) -> None:
    target = tmp_path / "written"
    hostile = [
        "--help",
        f"-w {target}",
        f"--stdout -w {target}",
        f"; touch {target} && echo $(touch {target}) `touch {target}` | cat > {target}",
        "[[h@'loU]] <speak>ssml</speak>\x1b[2J\x00",
    ]
    synthesis = await tts.start(_voice("en"), "en")
    pieces = await _speak(synthesis, *hostile)
    assert not target.exists()
    assert {index for index, _ in pieces} == set(range(len(hostile)))
    for index in range(len(hostile)):
        spoken = np.concatenate([pcm for i, pcm in pieces if i == index])
        assert duration(spoken) > 0.3, hostile[index]  # espeak-ng's usage text is not audio


def test_speakable_removes_control_characters_and_phoneme_brackets() -> None:
    assert speakable("a\x1b[2Jb\x00c[[x]]") == "a [2Jb c[ [x]]"


def test_split_chunk_keeps_every_word_in_pieces_within_the_limit() -> None:
    text = "One two three. " * 100 + "x" * 50
    pieces = split_chunk(text, limit=120)
    assert all(len(piece) <= 120 for piece in pieces)
    assert " ".join(pieces).split() == text.split()
    assert pieces[0].endswith(".")
    assert split_chunk("y" * 250, limit=100) == ["y" * 100, "y" * 100, "y" * 50]


async def test_a_chunk_longer_than_the_limit_is_spoken_whole_under_one_index(
    tts: EmbeddedTextToSpeech,
) -> None:
    long = "This sentence goes on. " * (MAX_CHUNK_CHARS // 20)
    assert len(long) > MAX_CHUNK_CHARS
    pieces = await _speak(await tts.start(_voice("en"), "en"), long, "End.")
    assert {index for index, _ in pieces} == {0, 1}
    spoken = np.concatenate([pcm for index, pcm in pieces if index == 0])
    assert duration(spoken) > 20


async def test_aclose_mid_speech_kills_espeak_and_leaves_no_child(
    tts: EmbeddedTextToSpeech,
) -> None:
    synthesis = await tts.start(_voice("en"), "en")
    await synthesis.send_text("words " * 100)
    await synthesis.send_text("and more words " * 40)
    audio = synthesis.audio()
    first = await anext(audio)
    assert first.chunk_index == 0
    running = _espeak_children()
    assert running  # still speaking the long chunks
    await synthesis.aclose()
    assert _espeak_children() == []  # killed and reaped: no zombie either
    for process in running:
        assert not psutil.pid_exists(process.pid)
    assert [spoken async for spoken in audio] == []
    await synthesis.send_text("ignored after a barge-in")
    await synthesis.aclose()


async def test_an_aclose_cancelled_midway_is_finished_by_the_engines_aclose(
    tts: EmbeddedTextToSpeech,
) -> None:
    # A session torn down while its answer is being stopped cancels the stop itself; the
    # espeak-ng processes must still be reaped by the time the engine closes, or they outlive
    # the server's loop (an unclosed pipe transport at best, a zombie at worst).
    synthesis = await tts.start(_voice("en"), "en")
    await synthesis.send_text("words " * 100)
    await synthesis.send_text("and more words " * 40)
    audio = synthesis.audio()
    await anext(audio)
    assert _espeak_children()
    closing = asyncio.create_task(synthesis.aclose())
    await asyncio.sleep(0)  # it has cancelled the chunks and waits for them
    closing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closing
    await tts.aclose()
    assert _espeak_children() == []
    pending = [task for task in asyncio.all_tasks() if "reap" in repr(task.get_coro())]
    assert pending == []


async def test_engine_aclose_stops_every_answer_in_flight(tts: EmbeddedTextToSpeech) -> None:
    for _ in range(2):
        synthesis = await tts.start(_voice("en"), "en")
        await synthesis.send_text("words " * 100)
    await tts.aclose()
    assert _espeak_children() == []


async def test_a_chunk_over_its_time_is_killed_and_reported_as_a_timeout() -> None:
    engine = EmbeddedTextToSpeech(chunk_timeout=0.05)
    synthesis = await engine.start(_voice("en"), "en")
    with pytest.raises(VoiceEngineError) as raised:
        await _speak(synthesis, "A long answer that takes espeak-ng a while to say. " * 11)
    assert raised.value.code is VoiceErrorCode.TIMEOUT
    assert _espeak_children() == []
    await engine.aclose()


async def test_text_after_the_end_is_refused(tts: EmbeddedTextToSpeech) -> None:
    synthesis = await tts.start(_voice("en"), "en")
    await synthesis.end()
    with pytest.raises(VoiceEngineError):
        await synthesis.send_text("too late")
    assert [spoken async for spoken in synthesis.audio()] == []


async def test_probe_is_true_when_espeak_runs(tts: EmbeddedTextToSpeech) -> None:
    assert await tts.probe()
    assert await tts.probe()  # cached


async def test_a_missing_espeak_says_which_command_installs_it() -> None:
    engine = EmbeddedTextToSpeech(command="espeak-ng-not-installed")
    assert not await engine.probe()
    with pytest.raises(VoiceEngineError) as raised:
        await engine.start(_voice("en"), "en")
    assert raised.value.code is VoiceErrorCode.UNAVAILABLE
    assert "apt-get install -y espeak-ng" in raised.value.message


async def test_espeak_runs_at_a_lower_priority_than_the_server() -> None:
    engine = EmbeddedTextToSpeech(niceness=7)
    try:
        synthesis = await engine.start(_voice("en"), "en")
        await synthesis.send_text("words " * 100)
        await synthesis.send_text("and more words " * 40)
        audio = synthesis.audio()
        await anext(audio)
        running = _espeak_children()
        assert running  # still speaking the long chunks
        own = psutil.Process().nice()
        assert {process.nice() for process in running} == {min(19, own + 7)}
        await synthesis.aclose()
    finally:
        await engine.aclose()
