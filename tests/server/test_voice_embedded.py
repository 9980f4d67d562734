"""Real speech through a real server with the default embedded engines and a fake LLM."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs in the test extras

from tests.fake_llm import FakeLLM, StreamReply
from tests.server.conftest import (
    FAKE_MODEL,
    MakeServer,
    Realtime,
    conversation_tasks,
    until,
)
from tests.server.voice_audio import appends, audio_of, pcm16, seconds_of, types
from tests.voice import speech_fixtures
from unmute_server.llm import LLMSettings
from unmute_server.server.state import SESSIONS
from unmute_server.voice.audio import silence
from unmute_server.voice.settings import DEFAULT_WORKER_NICENESS
from unmute_server.voice.stt.embedded import WORKER_MODULE

FIXTURE = "hello_coffee"
ANSWER = ("Of course. ", "One cup of coffee ", "coming right up.")


async def talk(make_server: MakeServer, fake_llm: FakeLLM) -> Realtime:
    server = await make_server(llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL))
    return await server.connect()


def assert_heard_the_words(transcript: str) -> None:
    words = transcript.lower().split()
    assert "coffee" in words, transcript
    assert {"how", "are", "you", "today"} & set(words), transcript


async def test_spoken_pcm16_is_heard_answered_in_character_and_spoken_back(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(StreamReply(chunks=ANSWER))
    client = await talk(make_server, fake_llm)
    updated = await client.update(voice="Alice")
    audio = speech_fixtures.pcm16_bytes(FIXTURE) + pcm16(silence(1.5))
    for event in appends(audio):
        await client.send(event)
    events = await client.receive_until("response.done")

    kinds = types(events)
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index(
        "input_audio_buffer.speech_stopped"
    )
    assert "conversation.item.input_audio_transcription.delta" in kinds
    completed = next(e for e in events if e["type"].endswith("transcription.completed"))
    assert_heard_the_words(completed["transcript"])
    request = fake_llm.requests[-1]
    assert request.system_prompt == updated["session"]["instructions"]
    assert request.messages[-1] == {"role": "user", "content": completed["transcript"]}
    assert seconds_of(audio_of(events), ogg_format=False) > 0.5
    assert events[-1]["response"]["status"] == "completed"


async def test_spoken_ogg_opus_committed_by_the_client_is_answered_in_ogg_opus(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(StreamReply(chunks=ANSWER))
    client = await talk(make_server, fake_llm)
    await client.update(voice="Bob", turn_detection=None)
    for event in appends(speech_fixtures.ogg_bytes(FIXTURE), size=2_000):
        await client.send(event)
    await client.send({"type": "input_audio_buffer.commit"})
    heard = await client.receive_until("conversation.item.input_audio_transcription.completed")
    assert_heard_the_words(heard[-1]["transcript"])
    events = await client.respond()
    audio = audio_of(events)
    assert audio.startswith(b"OggS")  # answered in the format the session sent
    assert seconds_of(audio, ogg_format=True) > 0.5


async def test_barge_in_with_the_embedded_engines_cancels_the_answer(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    long_answer = tuple(f"This is sentence {n} of a long answer. " for n in range(30))
    fake_llm.enqueue(StreamReply(chunks=long_answer, delay=0.05), StreamReply(chunks=("Yes?",)))
    client = await talk(make_server, fake_llm)
    await client.update(voice="Alice")
    speech = speech_fixtures.pcm16_bytes(FIXTURE) + pcm16(silence(1.0))
    for event in appends(speech):
        await client.send(event)
    first = await client.receive_until("response.audio.delta")
    response_id = next(e for e in first if e["type"] == "response.created")["response"]["id"]
    for event in appends(speech):
        await client.send(event)
    events = await client.receive_until("response.done")
    assert events[-1]["response"]["id"] == response_id
    assert events[-1]["response"]["status"] == "cancelled"
    # The LLM's stream was closed before its end: the cut answer is not in the next request
    # beyond what was heard.
    nxt = await client.receive_until("response.done")
    assert nxt[-1]["response"]["status"] == "completed"
    assistant = [m for m in fake_llm.requests[-1].messages if m["role"] == "assistant"]
    assert len(assistant[-1]["content"]) < len("".join(long_answer).strip())


def voice_tasks() -> list[asyncio.Task[Any]]:
    """The voice path's tasks still alive (each is named ``voice ...``)."""
    return [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith("voice ") and not task.done()
    ]


def espeak_children() -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if child.is_running()
        and child.status() != psutil.STATUS_ZOMBIE
        and "espeak" in child.name()
    ]


async def test_leaving_mid_utterance_or_mid_answer_leaves_nothing_behind(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    long_answer = tuple(f"This is sentence {n} of a long answer. " for n in range(30))
    fake_llm.enqueue(StreamReply(chunks=long_answer, delay=0.05))
    server = await make_server(llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL))
    speech = speech_fixtures.pcm16_bytes(FIXTURE)
    # Mid-answer: gone while the answer streams and is spoken.
    client = await server.connect()
    for event in appends(speech + pcm16(silence(1.0))):
        await client.send(event)
    await client.receive_until("response.audio.delta")
    await client.ws.close()
    # Mid-utterance, more times than the embedded engine has workers: a worker kept by a
    # session that left would leave the last one without.
    for _ in range(5):
        client = await server.connect()
        for event in appends(speech[: len(speech) // 2]):
            await client.send(event)
        await client.receive_until("input_audio_buffer.speech_started")
        await client.ws.close()
    await until(lambda: len(server.app[SESSIONS]) == 0, "every session to end")
    await until(lambda: not voice_tasks(), "the voice tasks to end")
    await until(lambda: not conversation_tasks(), "the responses to end")
    await until(lambda: not espeak_children(), "espeak-ng to be gone")
    # The engines are whole: a new session is heard and transcribed.
    client = await server.connect()
    await client.update(turn_detection=None)
    for event in appends(speech):
        await client.send(event)
    await client.send({"type": "input_audio_buffer.commit"})
    heard = await client.receive_until("conversation.item.input_audio_transcription.completed")
    assert_heard_the_words(heard[-1]["transcript"])


async def test_a_language_the_embedded_stt_lacks_is_a_clear_error_and_the_turn_still_shows(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    client = await talk(make_server, fake_llm)
    await client.update(input_audio_transcription={"language": "fr"})
    speech = speech_fixtures.pcm16_bytes(FIXTURE) + pcm16(silence(1.5))
    for event in appends(speech):
        await client.send(event)
    events = await client.receive_until("conversation.item.input_audio_transcription.failed")
    kinds = types(events)
    assert kinds[:1] == ["input_audio_buffer.speech_started"]
    failed = events[-1]
    assert failed["error"]["code"] == "voice_unsupported"
    assert "English" in failed["error"]["message"]
    error = await client.receive()
    assert error["type"] == "error"
    assert error["error"]["code"] == "voice_unsupported"
    rest = await client.receive_until("input_audio_buffer.committed")
    assert "input_audio_buffer.speech_stopped" in types(rest)
    # In English the same session is heard again.
    fake_llm.enqueue(StreamReply(chunks=ANSWER))
    await client.update(input_audio_transcription={"language": "en"})
    for event in appends(speech):
        await client.send(event)
    heard = await client.receive_until("conversation.item.input_audio_transcription.completed")
    assert_heard_the_words(heard[-1]["transcript"])


async def test_the_embedded_engines_run_nicer_than_the_server_by_default(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    fake_llm.enqueue(StreamReply(chunks=("Of course, " * 40,)))
    client = await talk(make_server, fake_llm)
    await client.update(voice="Alice")
    for event in appends(speech_fixtures.pcm16_bytes(FIXTURE) + pcm16(silence(1.0))):
        await client.send(event)
    await client.receive_until("response.audio.delta")
    own = psutil.Process().nice()
    seen: dict[str, set[int]] = {"worker": set(), "espeak": set()}
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):  # an espeak-ng may end meanwhile
            kind = "worker" if WORKER_MODULE in " ".join(child.cmdline()) else child.name()
            if kind in seen or "espeak" in kind:
                seen["worker" if kind == "worker" else "espeak"].add(child.nice())
    assert seen["worker"] == {min(19, own + DEFAULT_WORKER_NICENESS)}
    assert seen["espeak"] <= {min(19, own + DEFAULT_WORKER_NICENESS)}


def deltas_and_transcript(events: list[dict[str, Any]]) -> tuple[str, str]:
    """A turn's deltas joined as a client joins them, and its completed transcript."""
    deltas = "".join(
        event["delta"]
        for event in events
        if event["type"] == "conversation.item.input_audio_transcription.delta"
    )
    completed = next(e for e in events if e["type"].endswith("transcription.completed"))
    return deltas, completed["transcript"]


async def test_the_deltas_of_a_spoken_pcm16_turn_add_up_to_its_transcript(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    client = await talk(make_server, fake_llm)
    await client.update(voice="Alice")
    audio = speech_fixtures.pcm16_bytes(FIXTURE) + pcm16(silence(1.5))
    for event in appends(audio):
        await client.send(event)
    events = await client.receive_until("conversation.item.input_audio_transcription.completed")
    deltas, transcript = deltas_and_transcript(events)
    assert_heard_the_words(transcript)
    assert deltas == transcript


async def test_the_deltas_of_a_committed_ogg_opus_turn_add_up_to_its_transcript(
    make_server: MakeServer, fake_llm: FakeLLM
) -> None:
    client = await talk(make_server, fake_llm)
    await client.update(voice="Bob", turn_detection=None)
    for event in appends(speech_fixtures.ogg_bytes(FIXTURE), size=2_000):
        await client.send(event)
    await client.send({"type": "input_audio_buffer.commit"})
    events = await client.receive_until("conversation.item.input_audio_transcription.completed")
    deltas, transcript = deltas_and_transcript(events)
    assert_heard_the_words(transcript)
    assert deltas == transcript
