"""The OpenAI-compatible speech-to-text through the real `openai` client against the fake server."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import numpy as np
import pytest
from pytest_aiohttp import AiohttpServer

from tests.fake_llm import SilentReply, StatusReply
from tests.fake_openai_audio import (
    FakeOpenAIAudio,
    RawBody,
    Transcript,
    start_fake_openai_audio,
)
from unmute_server.voice.audio import SAMPLE_RATE, Pcm
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.stt.openai import OpenAISpeechToText, pcm16_bytes

API_KEY = "sk-test-secret-0123456789"
FRAME = 1920  # what the pipeline feeds: 80 ms at 24 kHz


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> FakeOpenAIAudio:
    return await start_fake_openai_audio(aiohttp_server)


@pytest.fixture
async def stt(fake: FakeOpenAIAudio) -> AsyncIterator[OpenAISpeechToText]:
    engine = OpenAISpeechToText(fake.base_url, api_key=API_KEY, model="whisper-1", timeout=5.0)
    yield engine
    await engine.aclose()


def _tone(seconds: float, hz: float = 220.0) -> Pcm:
    times = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tone: Pcm = (0.5 * np.sin(2 * np.pi * hz * times)).astype(np.float32)
    return tone


async def _transcribe(stt: OpenAISpeechToText, pcm: Pcm, language: str = "en") -> str:
    partials: list[str] = []
    transcription = await stt.start(language, partials.append)
    try:
        for start in range(0, len(pcm), FRAME):
            await transcription.feed(pcm[start : start + FRAME])
        return await transcription.finish()
    finally:
        await transcription.aclose()
        assert partials == [], "this API has no partial transcripts"


async def _failure(stt: OpenAISpeechToText) -> VoiceEngineError:
    with pytest.raises(VoiceEngineError) as caught:
        await _transcribe(stt, _tone(0.5))
    return caught.value


def _assert_safe(error: VoiceEngineError, fake: FakeOpenAIAudio) -> None:
    for secret in (API_KEY, fake.base_url, "127.0.0.1", "/v1"):
        assert secret not in error.message
        assert secret not in str(error)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def test_the_utterance_is_posted_as_a_24khz_mono_wav_and_its_text_returned(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText
) -> None:
    fake.enqueue_transcriptions(Transcript(text="  Bonjour tout le monde.  "))
    pcm = _tone(1.5)

    assert await _transcribe(stt, pcm, language="fr") == "Bonjour tout le monde."

    [request] = fake.transcriptions
    assert request.wav_error is None
    assert (request.sample_rate, request.channels, request.sample_width) == (SAMPLE_RATE, 1, 2)
    assert request.duration == pytest.approx(1.5)
    assert np.array_equal(request.samples, np.frombuffer(pcm16_bytes(pcm), dtype="<i2"))
    assert np.abs(request.samples.astype(np.float32) / 32767 - pcm).max() < 1e-4
    assert request.model == "whisper-1"
    assert request.language == "fr"
    assert request.fields.get("response_format") == "json"
    assert request.filename == "utterance.wav"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.completed


async def test_an_empty_language_lets_the_server_detect_it(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText
) -> None:
    await _transcribe(stt, _tone(0.2), language="")
    assert fake.transcriptions[0].language is None


async def test_a_long_utterance_built_off_the_loop_is_still_a_whole_wav(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText
) -> None:
    pcm = _tone(12.0)
    assert await _transcribe(stt, pcm) == "hello there"
    assert fake.transcriptions[0].duration == pytest.approx(12.0)
    assert np.array_equal(
        fake.transcriptions[0].samples, np.frombuffer(pcm16_bytes(pcm), dtype="<i2")
    )


async def test_out_of_range_samples_are_clipped_not_wrapped(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText
) -> None:
    await _transcribe(stt, np.array([2.0, -2.0, 1.0, -1.0, 0.0], dtype=np.float32))
    assert fake.transcriptions[0].samples.tolist() == [32767, -32767, 32767, -32767, 0]


async def test_an_utterance_with_no_audio_is_empty_text_without_a_request(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText
) -> None:
    transcription = await stt.start("en", lambda _text: None)
    await transcription.feed(np.zeros(0, dtype=np.float32))
    assert await transcription.finish() == ""
    assert fake.transcriptions == []


async def test_each_utterance_is_its_own_request(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText
) -> None:
    fake.enqueue_transcriptions(Transcript("one"), Transcript("two"))
    assert await _transcribe(stt, _tone(0.3)) == "one"
    assert await _transcribe(stt, _tone(0.6)) == "two"
    assert [request.duration for request in fake.transcriptions] == pytest.approx([0.3, 0.6])


async def test_audio_past_the_maximum_length_is_refused_with_a_clear_error(
    fake: FakeOpenAIAudio,
) -> None:
    stt = OpenAISpeechToText(
        fake.base_url, api_key=None, model="m", timeout=5.0, max_utterance_seconds=1.0
    )
    try:
        transcription = await stt.start("en", lambda _text: None)
        await transcription.feed(_tone(0.9))
        with pytest.raises(VoiceEngineError) as caught:
            await transcription.feed(_tone(0.2))
        await transcription.aclose()
    finally:
        await stt.aclose()
    assert caught.value.code is VoiceErrorCode.UNSUPPORTED
    assert "longer than 1 s" in caught.value.message
    assert fake.transcriptions == []


async def test_an_abandoned_utterance_sends_nothing(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText
) -> None:
    transcription = await stt.start("en", lambda _text: None)
    await transcription.feed(_tone(0.5))
    await transcription.aclose()
    await transcription.aclose()
    assert await transcription.finish() == ""
    assert fake.transcriptions == []


async def test_cancelling_finish_closes_the_upstream_request(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText
) -> None:
    fake.enqueue_transcriptions(SilentReply())
    transcription = await stt.start("en", lambda _text: None)
    await transcription.feed(_tone(0.5))
    finishing = asyncio.create_task(transcription.finish())
    await fake.wait_until(lambda: len(fake.transcriptions) == 1)

    finishing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await finishing
    await fake.wait_until(lambda: fake.transcriptions[0].disconnected)


async def test_an_http_error_status_is_rejected_and_names_the_status(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText
) -> None:
    fake.enqueue_transcriptions(StatusReply(503, message=f"overloaded, key {API_KEY}"))
    error = await _failure(stt)
    assert error.code is VoiceErrorCode.REJECTED
    assert "HTTP 503" in error.message
    _assert_safe(error, fake)


async def test_the_operator_log_names_the_failure_without_the_key(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText, caplog: pytest.LogCaptureFixture
) -> None:
    fake.enqueue_transcriptions(StatusReply(401, message=f"bad key {API_KEY}"))
    with caplog.at_level(logging.WARNING):
        await _failure(stt)
    assert "AuthenticationError" in caplog.text
    assert "[api key]" in caplog.text
    assert API_KEY not in caplog.text


async def test_a_server_that_does_not_answer_in_time_is_a_timeout(
    fake: FakeOpenAIAudio,
) -> None:
    fake.enqueue_transcriptions(SilentReply())
    stt = OpenAISpeechToText(fake.base_url, api_key=API_KEY, model="m", timeout=0.3)
    try:
        error = await _failure(stt)
    finally:
        await stt.aclose()
    assert error.code is VoiceErrorCode.TIMEOUT
    assert "0.3 s" in error.message
    _assert_safe(error, fake)
    await fake.wait_until(lambda: fake.transcriptions[0].disconnected)


async def test_an_unreachable_server_is_unavailable(fake: FakeOpenAIAudio) -> None:
    stt = OpenAISpeechToText(_closed_port_url(), api_key=API_KEY, model="m", timeout=5.0)
    try:
        error = await _failure(stt)
    finally:
        await stt.aclose()
    assert error.code is VoiceErrorCode.UNAVAILABLE
    _assert_safe(error, fake)


@pytest.mark.parametrize(
    "body",
    [
        RawBody(b'{"text": 5}'),
        RawBody(b'{"transcript": "hello"}'),
        RawBody(b"not json at all"),
        RawBody(b"[1, 2"),
    ],
    ids=["text-not-a-string", "no-text", "not-json", "truncated-json"],
)
async def test_an_answer_without_a_text_string_is_a_bad_response(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText, body: RawBody
) -> None:
    fake.enqueue_transcriptions(body)
    error = await _failure(stt)
    assert error.code is VoiceErrorCode.BAD_RESPONSE
    _assert_safe(error, fake)


async def test_the_probe_is_true_when_the_server_lists_its_models(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText
) -> None:
    assert await stt.probe() is True
    assert fake.models_requests[0]["Authorization"] == f"Bearer {API_KEY}"


async def test_concurrent_probes_share_one_request(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText
) -> None:
    assert await asyncio.gather(*(stt.probe() for _ in range(5))) == [True] * 5
    assert len(fake.models_requests) == 1


@pytest.mark.parametrize(
    "reply", [StatusReply(401), StatusReply(500)], ids=["bad-key", "server-error"]
)
async def test_the_probe_is_false_when_the_server_refuses(
    fake: FakeOpenAIAudio, stt: OpenAISpeechToText, reply: StatusReply
) -> None:
    fake.enqueue_models(reply)
    assert await stt.probe() is False


async def test_the_probe_is_false_when_the_server_does_not_answer_in_time(
    fake: FakeOpenAIAudio,
) -> None:
    fake.enqueue_models(SilentReply())
    stt = OpenAISpeechToText(fake.base_url, api_key=None, model="m", timeout=0.3)
    try:
        assert await stt.probe() is False
    finally:
        await stt.aclose()


async def test_the_probe_is_false_when_the_server_is_unreachable() -> None:
    stt = OpenAISpeechToText(_closed_port_url(), api_key=None, model="m", timeout=5.0)
    try:
        assert await stt.probe() is False
    finally:
        await stt.aclose()


@pytest.mark.parametrize(
    ("model", "timeout", "max_seconds", "named"),
    [
        ("", 5.0, 60.0, "model"),
        ("m", 0.0, 60.0, "timeout"),
        ("m", float("nan"), 60.0, "timeout"),
        ("m", 5.0, 0.0, "max_utterance_seconds"),
    ],
)
def test_unusable_arguments_are_refused_at_construction(
    model: str, timeout: float, max_seconds: float, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        OpenAISpeechToText(
            "http://127.0.0.1:9/v1",
            api_key=None,
            model=model,
            timeout=timeout,
            max_utterance_seconds=max_seconds,
        )
