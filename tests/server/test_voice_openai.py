"""A whole voice session through a real server relaying to a fake OpenAI-compatible audio API."""

from __future__ import annotations

import pytest
from pytest_aiohttp import AiohttpServer

from tests.fake_llm import FakeLLM, StreamReply
from tests.fake_openai_audio import (
    FakeOpenAIAudio,
    Transcript,
    speech_pcm16,
    start_fake_openai_audio,
)
from tests.server.conftest import FAKE_MODEL, MakeServer
from tests.server.voice_audio import appends, audio_of, ogg, seconds_of, speak, types, utterance
from unmute_server.llm import LLMSettings
from unmute_server.voice.audio import SAMPLE_RATE, Pcm
from unmute_server.voice.settings import EngineKind, EngineSettings, VoiceSettings


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Pcm:
    return speak("Hello there, how are you today?", tmp_path_factory.mktemp("speech"))


@pytest.fixture
async def audio_api(aiohttp_server: AiohttpServer) -> FakeOpenAIAudio:
    return await start_fake_openai_audio(aiohttp_server)


async def test_a_spoken_turn_goes_through_the_openai_audio_endpoints(
    make_server: MakeServer, fake_llm: FakeLLM, audio_api: FakeOpenAIAudio, speech: Pcm
) -> None:
    audio_api.enqueue_transcriptions(Transcript(text="hello there how are you"))
    fake_llm.enqueue(StreamReply(chunks=("I am well. ", "Thank you for asking.")))
    voice = VoiceSettings(
        stt=EngineSettings(
            EngineKind.OPENAI, url=audio_api.base_url, model="whisper-1", api_key="sk-test"
        ),
        tts=EngineSettings(
            EngineKind.OPENAI, url=audio_api.base_url, model="tts-1", api_key="sk-test"
        ),
    )
    server = await make_server(
        llm=LLMSettings(url=fake_llm.base_url, model=FAKE_MODEL), voice=voice
    )
    client = await server.connect()
    updated = await client.update(voice="Bob")
    for event in appends(ogg(utterance(speech))):
        await client.send(event)
    events = await client.receive_until("response.done")

    completed = next(e for e in events if e["type"].endswith("transcription.completed"))
    assert completed["transcript"] == "hello there how are you"
    # No partials from this API: the whole transcript is the turn's one delta, so the deltas
    # still join to the completed transcript.
    deltas = [e["delta"] for e in events if e["type"].endswith("transcription.delta")]
    assert deltas == ["hello there how are you"]
    heard = audio_api.transcriptions[-1]
    assert heard.model == "whisper-1"
    assert heard.duration > 1.0  # the whole utterance was posted, not a fragment
    request = fake_llm.requests[-1]
    assert request.messages[-1] == {"role": "user", "content": "hello there how are you"}
    assert request.system_prompt == updated["session"]["instructions"]
    # Every sample the engine spoke came back (Opus pads the last frame and adds its pre-skip).
    spoken = sum(len(speech_pcm16(text)) // 2 for text in ("I am well.", "Thank you for asking."))
    assert spoken / SAMPLE_RATE <= seconds_of(audio_of(events), ogg_format=True)
    assert seconds_of(audio_of(events), ogg_format=True) < spoken / SAMPLE_RATE + 0.2
    assert [speech.input for speech in audio_api.speeches] == [
        "I am well.",
        "Thank you for asking.",
    ]
    assert audio_api.speeches[-1].model == "tts-1"
    assert "response.audio_transcript.done" in types(events)
    assert events[-1]["response"]["status"] == "completed"
