"""The OpenAI-compatible text-to-speech through the real `openai` client against the fake server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest
from pytest_aiohttp import AiohttpServer

from tests.fake_llm import WAIT_GUARD_SECONDS, SilentReply, StatusReply
from tests.fake_openai_audio import (
    FakeOpenAIAudio,
    RawBody,
    SpeechAudio,
    speech_pcm16,
    start_fake_openai_audio,
)
from unmute_server.voice.audio import Pcm
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.tts.engine import SpokenAudio, VoiceChoice
from unmute_server.voice.tts.openai import (
    OpenAISynthesis,
    OpenAITextToSpeech,
    Pcm16Reader,
)

API_KEY = "sk-test-secret-0123456789"
VOICE = VoiceChoice(kyutai=None, embedded="en+f3", openai="af_bella")


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> FakeOpenAIAudio:
    return await start_fake_openai_audio(aiohttp_server)


@pytest.fixture
async def tts(fake: FakeOpenAIAudio) -> AsyncIterator[OpenAITextToSpeech]:
    engine = OpenAITextToSpeech(fake.base_url, api_key=API_KEY, model="kokoro", timeout=5.0)
    yield engine
    await engine.aclose()


def _expected(text: str) -> Pcm:
    """The fake's audio for ``text``, decoded here independently of the adapter."""
    samples = np.frombuffer(speech_pcm16(text), dtype="<i2").astype(np.float32)
    pcm: Pcm = samples / np.float32(32768)
    return pcm


async def _collect(
    synthesis: OpenAISynthesis, into: list[SpokenAudio] | None = None
) -> list[SpokenAudio]:
    pieces = [] if into is None else into
    async for piece in synthesis.audio():
        pieces.append(piece)
    return pieces


async def _speak(tts: OpenAITextToSpeech, texts: Sequence[str]) -> list[SpokenAudio]:
    synthesis = await tts.start(VOICE, "en")
    try:
        for text in texts:
            await synthesis.send_text(text)
        await synthesis.end()
        return await _collect(synthesis)
    finally:
        await synthesis.aclose()


def _by_chunk(pieces: list[SpokenAudio]) -> dict[int, Pcm]:
    chunks: dict[int, list[Pcm]] = {}
    for piece in pieces:
        assert piece.pcm.dtype == np.float32
        assert piece.pcm.ndim == 1
        chunks.setdefault(piece.chunk_index, []).append(piece.pcm)
    return {index: np.concatenate(parts) for index, parts in chunks.items()}


async def _failure(
    tts: OpenAITextToSpeech, texts: Sequence[str] = ("Hello there.",)
) -> tuple[VoiceEngineError, list[SpokenAudio]]:
    synthesis = await tts.start(VOICE, "en")
    pieces: list[SpokenAudio] = []
    try:
        for text in texts:
            await synthesis.send_text(text)
        await synthesis.end()
        with pytest.raises(VoiceEngineError) as caught:
            await _collect(synthesis, into=pieces)
    finally:
        await synthesis.aclose()
    return caught.value, pieces


def _assert_safe(error: VoiceEngineError, fake: FakeOpenAIAudio) -> None:
    for secret in (API_KEY, fake.base_url, "127.0.0.1", "/v1"):
        assert secret not in error.message
        assert secret not in str(error)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def test_chunks_are_spoken_in_order_with_their_indexes_and_every_sample_whole(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    texts = ["Hello there, traveller.", "The road is long.", "Rest here."]

    pieces = await _speak(tts, texts)

    indexes = [piece.chunk_index for piece in pieces]
    assert indexes == sorted(indexes)
    assert len(pieces) > len(texts), "audio is passed on as it arrives, not per chunk"
    chunks = _by_chunk(pieces)
    assert sorted(chunks) == [0, 1, 2]
    for index, text in enumerate(texts):
        # Exact equality: a sample split across two network reads and misjoined would differ.
        assert np.array_equal(chunks[index], _expected(text))
    assert [request.input for request in fake.speeches] == texts
    for request in fake.speeches:
        assert request.model == "kokoro"
        assert request.voice == "af_bella"
        assert request.body["response_format"] == "pcm"
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"
        assert request.completed


async def test_the_next_chunks_request_is_open_while_the_previous_audio_is_read(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    first_gate = asyncio.Event()
    fake.enqueue_speech(SpeechAudio(gate=first_gate), SpeechAudio(), SpeechAudio())
    synthesis = await tts.start(VOICE, "en")
    try:
        for text in ("First sentence.", "Second one.", "Third."):
            await synthesis.send_text(text)
        await synthesis.end()
        # Chunk 0's audio is held by the fake, yet chunk 1's request has already arrived.
        await fake.wait_until(lambda: len(fake.speeches) >= 2)
        await asyncio.sleep(0.05)  # give a third request, if one were sent early, time to land
        assert len(fake.speeches) == 2, "the look-ahead is one request"
        first_gate.set()
        chunks = _by_chunk(await _collect(synthesis))
    finally:
        await synthesis.aclose()
    assert np.array_equal(chunks[0], _expected("First sentence."))
    assert np.array_equal(chunks[2], _expected("Third."))
    assert max(request.in_flight_at_arrival for request in fake.speeches) == 2


async def test_text_sent_while_audio_plays_is_spoken_after_it(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    synthesis = await tts.start(VOICE, "en")
    try:
        await synthesis.send_text("One.")
        pieces: list[SpokenAudio] = []
        async for piece in synthesis.audio():
            pieces.append(piece)
            if len(pieces) == 1:
                await synthesis.send_text("Two, later.")
                await synthesis.end()
    finally:
        await synthesis.aclose()
    chunks = _by_chunk(pieces)
    assert np.array_equal(chunks[1], _expected("Two, later."))


async def test_a_blank_chunk_keeps_its_index_but_sends_no_request(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    chunks = _by_chunk(await _speak(tts, ["Hi.", "   ", "Bye."]))
    assert sorted(chunks) == [0, 2]
    assert [request.input for request in fake.speeches] == ["Hi.", "Bye."]


async def test_an_answer_with_no_text_has_no_audio(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    assert await _speak(tts, []) == []
    assert fake.speeches == []


async def test_aclose_mid_stream_closes_the_request_and_ends_the_audio(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    fake.enqueue_speech(SpeechAudio(then="stall"), SpeechAudio(then="stall"))
    synthesis = await tts.start(VOICE, "en")
    await synthesis.send_text("A sentence that will be interrupted.")
    await synthesis.send_text("And one that never plays.")
    audio = synthesis.audio()
    first = await anext(audio)
    assert first.chunk_index == 0
    await fake.wait_until(lambda: len(fake.speeches) == 2)

    await asyncio.wait_for(synthesis.aclose(), timeout=WAIT_GUARD_SECONDS)

    await fake.wait_until(lambda: all(request.disconnected for request in fake.speeches))
    assert [piece async for piece in audio] == []
    await synthesis.aclose()  # idempotent


async def test_aclose_wakes_a_reader_waiting_for_audio(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    fake.enqueue_speech(SpeechAudio(gate=asyncio.Event()))
    synthesis = await tts.start(VOICE, "en")
    await synthesis.send_text("Held back by the server.")
    reading = asyncio.create_task(_collect(synthesis))
    await fake.wait_until(lambda: len(fake.speeches) == 1)

    await asyncio.wait_for(synthesis.aclose(), timeout=WAIT_GUARD_SECONDS)

    assert await asyncio.wait_for(reading, timeout=WAIT_GUARD_SECONDS) == []
    await fake.wait_until(lambda: fake.speeches[0].disconnected)


async def test_aclose_wakes_a_reader_waiting_for_text(tts: OpenAITextToSpeech) -> None:
    synthesis = await tts.start(VOICE, "en")
    reading = asyncio.create_task(_collect(synthesis))
    await asyncio.sleep(0)
    await synthesis.aclose()
    assert await asyncio.wait_for(reading, timeout=WAIT_GUARD_SECONDS) == []


async def test_text_after_end_is_a_programming_error(tts: OpenAITextToSpeech) -> None:
    synthesis = await tts.start(VOICE, "en")
    await synthesis.end()
    with pytest.raises(RuntimeError, match="after end"):
        await synthesis.send_text("late")
    await synthesis.aclose()


async def test_an_http_error_status_is_rejected_after_the_audio_before_it(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    fake.enqueue_speech(SpeechAudio(), StatusReply(422, message=f"bad voice, key {API_KEY}"))
    error, pieces = await _failure(tts, ["Fine.", "Refused."])
    assert error.code is VoiceErrorCode.REJECTED
    assert "HTTP 422" in error.message
    _assert_safe(error, fake)
    assert np.array_equal(_by_chunk(pieces)[0], _expected("Fine."))


async def test_a_connection_dropped_mid_stream_is_a_bad_response(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    fake.enqueue_speech(SpeechAudio(then="close"))
    error, pieces = await _failure(tts)
    assert error.code is VoiceErrorCode.BAD_RESPONSE
    assert pieces, "the audio before the drop was passed on"
    _assert_safe(error, fake)


async def test_a_stream_that_stalls_is_a_timeout(fake: FakeOpenAIAudio) -> None:
    fake.enqueue_speech(SpeechAudio(then="stall"))
    tts = OpenAITextToSpeech(fake.base_url, api_key=API_KEY, model="m", timeout=0.3)
    try:
        error, _pieces = await _failure(tts)
    finally:
        await tts.aclose()
    assert error.code is VoiceErrorCode.TIMEOUT
    _assert_safe(error, fake)
    await fake.wait_until(lambda: fake.speeches[0].disconnected)


async def test_a_server_that_never_answers_is_a_timeout(fake: FakeOpenAIAudio) -> None:
    fake.enqueue_speech(SilentReply())
    tts = OpenAITextToSpeech(fake.base_url, api_key=API_KEY, model="m", timeout=0.3)
    try:
        error, pieces = await _failure(tts)
    finally:
        await tts.aclose()
    assert error.code is VoiceErrorCode.TIMEOUT
    assert pieces == []
    _assert_safe(error, fake)


async def test_an_unreachable_server_is_unavailable(fake: FakeOpenAIAudio) -> None:
    tts = OpenAITextToSpeech(_closed_port_url(), api_key=API_KEY, model="m", timeout=5.0)
    try:
        error, _pieces = await _failure(tts)
    finally:
        await tts.aclose()
    assert error.code is VoiceErrorCode.UNAVAILABLE
    _assert_safe(error, fake)


@pytest.mark.parametrize(
    "body",
    [RawBody(b'{"error": "no pcm here"}'), RawBody(b"oops", content_type="text/plain")],
    ids=["json", "text"],
)
async def test_a_2xx_answer_that_is_not_audio_is_a_bad_response(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech, body: RawBody
) -> None:
    fake.enqueue_speech(body)
    error, pieces = await _failure(tts)
    assert error.code is VoiceErrorCode.BAD_RESPONSE
    assert pieces == []
    _assert_safe(error, fake)


@pytest.mark.parametrize(
    "content_type", ["audio/pcm;rate=22050", "audio/L16; rate=44100; channels=1"]
)
async def test_pcm_at_another_rate_is_refused_as_unsupported(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech, content_type: str
) -> None:
    fake.enqueue_speech(RawBody(b"\x00\x01" * 100, content_type=content_type))
    error, pieces = await _failure(tts)
    assert error.code is VoiceErrorCode.UNSUPPORTED
    assert "24000 Hz" in error.message
    assert pieces == []
    _assert_safe(error, fake)


async def test_pcm_stated_at_24khz_is_played(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    fake.enqueue_speech(RawBody(b"\x00\x40" * 100, content_type="audio/pcm;rate=24000"))
    pieces = await _speak(tts, ["Hi."])
    assert np.array_equal(_by_chunk(pieces)[0], np.full(100, 0.5, dtype=np.float32))


async def test_the_probe_is_true_when_the_server_lists_its_models(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    assert await tts.probe() is True
    assert len(fake.models_requests) == 1


async def test_the_probe_is_false_when_the_server_refuses(
    fake: FakeOpenAIAudio, tts: OpenAITextToSpeech
) -> None:
    fake.enqueue_models(StatusReply(503))
    assert await tts.probe() is False


async def test_the_probe_is_false_when_the_server_is_unreachable() -> None:
    tts = OpenAITextToSpeech(_closed_port_url(), api_key=None, model="m", timeout=5.0)
    try:
        assert await tts.probe() is False
    finally:
        await tts.aclose()


@pytest.mark.parametrize(
    "splits",
    [[2, 4], [1, 2, 3], [3, 3], [1, 1, 1, 1, 1, 1], [5, 1]],
)
def test_samples_split_across_reads_are_joined_whole(splits: list[int]) -> None:
    data = np.array([1, -1, 32767, -32768, 256, -257], dtype="<i2").tobytes()[: sum(splits)]
    reader = Pcm16Reader()
    pcm: list[Pcm] = []
    start = 0
    for size in splits:
        pcm.append(reader.feed(data[start : start + size]))
        start += size
    decoded = np.concatenate(pcm)
    assert decoded.dtype == np.float32
    expected = np.frombuffer(data, dtype="<i2").astype(np.float32) / np.float32(32768)
    assert np.array_equal(decoded, expected)
    assert not reader.pending


def test_a_dangling_byte_is_reported_pending() -> None:
    reader = Pcm16Reader()
    assert len(reader.feed(b"\x01\x00\x02")) == 1
    assert reader.pending


def test_unusable_arguments_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="lookahead"):
        OpenAITextToSpeech(
            "http://127.0.0.1:9/v1", api_key=None, model="m", timeout=1, lookahead=-1
        )
    with pytest.raises(ValueError, match="model"):
        OpenAITextToSpeech("http://127.0.0.1:9/v1", api_key=None, model=" ", timeout=1)
