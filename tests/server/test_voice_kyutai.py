"""A whole voice session through a real server relaying to fake Kyutai STT and TTS servers."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from prometheus_client import generate_latest
from pytest_aiohttp import AiohttpServer

from tests.fake_kyutai import API_KEY, FakeKyutaiStt, FakeKyutaiTts, start_fake_stt, start_fake_tts
from tests.fake_llm import FakeLLM, StreamReply
from tests.server.conftest import FAKE_MODEL, MakeServer, Realtime, sample_in
from tests.server.voice_audio import (
    appends,
    audio_of,
    ogg,
    pcm16,
    seconds_of,
    speak,
    types,
    utterance,
)
from unmute_server.llm import LLMSettings
from unmute_server.voice.audio import Pcm
from unmute_server.voice.settings import EngineKind, EngineSettings, VoiceSettings


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Pcm:
    return speak("Hello there, how are you today?", tmp_path_factory.mktemp("speech"))


@pytest.fixture
async def kyutai(aiohttp_server: AiohttpServer) -> tuple[FakeKyutaiStt, FakeKyutaiTts]:
    stt = await start_fake_stt(aiohttp_server, transcript=("hello", "there", "friend"))
    tts = await start_fake_tts(aiohttp_server)
    return stt, tts


def kyutai_voice(stt: FakeKyutaiStt, tts: FakeKyutaiTts) -> VoiceSettings:
    return VoiceSettings(
        stt=EngineSettings(EngineKind.KYUTAI, url=stt.base_url, api_key=API_KEY, timeout=10),
        tts=EngineSettings(EngineKind.KYUTAI, url=tts.base_url, api_key=API_KEY, timeout=10),
    )


@pytest.mark.parametrize("audio_format", ["ogg_opus", "pcm16"])
async def test_a_spoken_turn_is_transcribed_answered_by_the_character_and_spoken(
    make_server: MakeServer,
    fake_llm: FakeLLM,
    kyutai: tuple[FakeKyutaiStt, FakeKyutaiTts],
    speech: Pcm,
    audio_format: str,
) -> None:
    stt, tts = kyutai
    fake_llm.enqueue(StreamReply(chunks=("Very well, ", "thank you. ", "And you?")))
    server = await make_server(
        llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL), voice=kyutai_voice(stt, tts)
    )
    client = await server.connect()
    updated = await client.update(voice="Alice")
    encode = ogg if audio_format == "ogg_opus" else pcm16
    for event in appends(encode(utterance(speech))):
        await client.send(event)
    events = await client.receive_until("response.done")

    kinds = types(events)
    for expected in (
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "response.audio.delta",
        "response.audio_transcript.delta",
        "response.audio.done",
        "response.audio_transcript.done",
        "response.text.delta",
    ):
        assert expected in kinds, expected
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index(
        "input_audio_buffer.speech_stopped"
    )
    completed = next(e for e in events if e["type"].endswith("transcription.completed"))
    assert completed["transcript"] == "hello there friend"
    # Each word the server sends is final: one delta each, joining to the transcript.
    deltas = [e["delta"] for e in events if e["type"].endswith("transcription.delta")]
    assert deltas == ["hello", " there", " friend"]
    # The LLM got the transcript as the user's message, under the character's prompt.
    request = fake_llm.requests[-1]
    assert request.messages[-1] == {"role": "user", "content": "hello there friend"}
    assert request.system_prompt == updated["session"]["instructions"]
    # The answer came back as audio in the session's own format, spoken in Alice's voice.
    audio = audio_of(events)
    assert seconds_of(audio, ogg_format=audio_format == "ogg_opus") > 0.5
    assert tts.connections[-1].voice == "voices/alice.wav"
    done = events[-1]
    assert done["response"]["status"] == "completed"
    transcript_done = next(e for e in events if e["type"] == "response.audio_transcript.done")
    assert transcript_done["transcript"] == "Very well, thank you. And you?"


async def test_speaking_during_an_answer_stops_it_and_the_history_keeps_what_was_heard(
    make_server: MakeServer,
    fake_llm: FakeLLM,
    kyutai: tuple[FakeKyutaiStt, FakeKyutaiTts],
    speech: Pcm,
) -> None:
    stt, tts = kyutai
    tts.frame_delay = 0.05  # an answer that takes seconds to speak
    long_answer = tuple(f"Sentence number {n} is here. " for n in range(40))
    fake_llm.enqueue(StreamReply(chunks=long_answer, delay=0.01), StreamReply(chunks=("Ok.",)))
    server = await make_server(
        llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL), voice=kyutai_voice(stt, tts)
    )
    client = await server.connect()
    await client.update(voice="Alice")
    for event in appends(pcm16(utterance(speech))):
        await client.send(event)
    first = await client.receive_until("response.audio.delta")
    response_id = next(e for e in first if e["type"] == "response.created")["response"]["id"]
    # The person speaks again: the answer stops.
    for event in appends(pcm16(utterance(speech, before=0.0))):
        await client.send(event)
    events = await client.receive_until("response.done")
    done = events[-1]
    assert done["response"]["id"] == response_id
    assert done["response"]["status"] == "cancelled"
    assert "input_audio_buffer.speech_started" in types(events)
    heard = next(e for e in events if e["type"] == "response.audio_transcript.done")["transcript"]
    full = "".join(long_answer).strip()
    assert len(heard) < len(full)
    # The next turn's request carries only what was heard of the cut answer, and nothing of
    # the cut answer's audio follows its response.done.
    rest = await client.receive_until("response.done")
    assert rest[-1]["response"]["status"] == "completed"
    assert [
        e for e in rest if e["type"] == "response.audio.delta" and e["response_id"] == response_id
    ] == []
    assistant = [m for m in fake_llm.requests[-1].messages if m["role"] == "assistant"]
    assert assistant[-1]["content"] == heard


async def test_a_text_only_session_gets_no_audio(
    make_server: MakeServer, fake_llm: FakeLLM, kyutai: tuple[FakeKyutaiStt, FakeKyutaiTts]
) -> None:
    stt, tts = kyutai
    server = await make_server(
        llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL), voice=kyutai_voice(stt, tts)
    )
    client = await server.connect()
    await client.say("Hi")
    events = await client.respond()
    assert "response.audio.delta" not in types(events)
    assert tts.connections == []


async def voice_client(
    make_server: MakeServer,
    fake_llm: FakeLLM,
    kyutai: tuple[FakeKyutaiStt, FakeKyutaiTts],
    **changes: Any,
) -> Realtime:
    stt, tts = kyutai
    server = await make_server(
        llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL),
        voice=kyutai_voice(stt, tts),
        **changes,
    )
    return await server.connect()


async def test_garbage_audio_is_an_error_and_the_session_carries_on(
    make_server: MakeServer,
    fake_llm: FakeLLM,
    kyutai: tuple[FakeKyutaiStt, FakeKyutaiTts],
    speech: Pcm,
) -> None:
    counted = ("unmute_voice_failures_total", {"stage": "stt", "code": "invalid_audio"})
    before = sample_in(generate_latest().decode(), *counted)
    client = await voice_client(make_server, fake_llm, kyutai)
    await client.update(input_audio_format="ogg_opus")
    garbage = base64.b64encode(b"OggS\x07" + b"not a page at all " * 4).decode("ascii")
    await client.send({"type": "input_audio_buffer.append", "audio": garbage})
    error = await client.receive()
    assert error["type"] == "error"
    assert error["error"]["code"] == "invalid_audio"
    assert "Ogg Opus" in error["error"]["message"]
    assert sample_in(generate_latest().decode(), *counted) == before + 1
    # A fresh stream after the bad bytes is heard and answered.
    for event in appends(ogg(utterance(speech))):
        await client.send(event)
    events = await client.receive_until("response.done")
    assert events[-1]["response"]["status"] == "completed"


async def test_audio_faster_than_it_is_processed_is_refused_past_the_bound(
    make_server: MakeServer,
    fake_llm: FakeLLM,
    kyutai: tuple[FakeKyutaiStt, FakeKyutaiTts],
    speech: Pcm,
) -> None:
    stt, tts = kyutai
    settings = kyutai_voice(stt, tts)
    tight = VoiceSettings(stt=settings.stt, tts=settings.tts, max_buffered_seconds=4.0)
    server = await make_server(
        llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL), voice=tight
    )
    client = await server.connect()
    data = pcm16(utterance(speech, after=3.0))
    for event in appends(data, size=len(data)):
        await client.send(event)  # one append of about 6 s: more than the bound
    error = await client.receive()
    assert error["error"]["code"] == "audio_buffer_full"
    assert "was refused" in error["error"]["message"]
    # Audio within the bound is still taken.
    data = pcm16(utterance(speech, after=1.0))
    for event in appends(data, size=len(data)):
        await client.send(event)  # about 3.7 s
    events = await client.receive_until("conversation.item.input_audio_transcription.completed")
    assert events[-1]["transcript"] == "hello there friend"


async def test_with_turn_detection_off_the_client_commits_turns(
    make_server: MakeServer,
    fake_llm: FakeLLM,
    kyutai: tuple[FakeKyutaiStt, FakeKyutaiTts],
    speech: Pcm,
) -> None:
    client = await voice_client(make_server, fake_llm, kyutai)
    updated = await client.update(turn_detection=None)
    assert updated["session"]["turn_detection"] is None
    await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_empty"})
    empty = await client.receive()
    assert empty["error"]["code"] == "input_audio_buffer_commit_empty"
    assert empty["error"]["event_id"] == "evt_empty"
    for event in appends(pcm16(utterance(speech))):
        await client.send(event)
    await client.send({"type": "input_audio_buffer.commit"})
    events = await client.receive_until("conversation.item.input_audio_transcription.completed")
    assert "input_audio_buffer.speech_started" not in types(events)
    assert "input_audio_buffer.committed" in types(events)
    # No response starts on its own; the client asks for one, and it is spoken.
    answer = await client.respond()
    assert "response.audio.delta" in types(answer)


async def test_clear_drops_the_turn_in_progress(
    make_server: MakeServer,
    fake_llm: FakeLLM,
    kyutai: tuple[FakeKyutaiStt, FakeKyutaiTts],
    speech: Pcm,
) -> None:
    client = await voice_client(make_server, fake_llm, kyutai)
    await client.update(turn_detection=None)
    for event in appends(pcm16(speech)):
        await client.send(event)
    await client.send({"type": "input_audio_buffer.clear"})
    cleared = await client.receive_until("input_audio_buffer.cleared")
    assert "conversation.item.input_audio_transcription.completed" not in types(cleared)
    await client.send({"type": "input_audio_buffer.commit"})
    assert (await client.receive())["error"]["code"] == "input_audio_buffer_commit_empty"
