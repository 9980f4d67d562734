"""KyutaiTextToSpeech against a fake moshi-server TTS on loopback: real sockets and MessagePack."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest
from pytest_aiohttp import AiohttpServer

from tests.fake_kyutai import (
    API_KEY,
    TTS_LEAD_SAMPLES,
    WAIT_GUARD_SECONDS,
    FakeKyutaiTts,
    start_fake_tts,
    tone,
)
from tests.voice.kyutai_timeouts import assert_idle_timeout
from unmute_server.voice._kyutai_wire import TextAlignment
from unmute_server.voice.audio import SAMPLE_RATE
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.tts.engine import SpokenAudio, VoiceChoice
from unmute_server.voice.tts.kyutai import ChunkTimeline, KyutaiSynthesis, KyutaiTextToSpeech

VOICE = VoiceChoice(kyutai="unmute-prod-website/developer-1.mp3", embedded="en+f3", openai="alloy")


@pytest.fixture
def make_tts(
    closing: Callable[[KyutaiTextToSpeech], KyutaiTextToSpeech],
) -> Callable[..., KyutaiTextToSpeech]:
    """Adapters for a test, closed when it ends; timeouts generous unless the test sets them."""

    def make(
        url: str,
        *,
        api_key: str | None = API_KEY,
        connect_timeout: float = WAIT_GUARD_SECONDS,
        idle_timeout: float = WAIT_GUARD_SECONDS,
    ) -> KyutaiTextToSpeech:
        return closing(
            KyutaiTextToSpeech(
                url, api_key=api_key, connect_timeout=connect_timeout, idle_timeout=idle_timeout
            )
        )

    return make


async def speak(synthesis: KyutaiSynthesis, *chunks: str) -> list[SpokenAudio]:
    for chunk in chunks:
        await synthesis.send_text(chunk)
    await synthesis.end()
    return [piece async for piece in synthesis.audio()]


def assert_safe(error: VoiceEngineError, url: str) -> None:
    """A client-facing message names neither the server nor the key."""
    host_port = url.removeprefix("ws://")
    for secret in (host_port, host_port.split(":")[1], "127.0.0.1", "ws://", API_KEY):
        assert secret not in error.message


async def test_the_server_gets_the_characters_voice_and_the_api_key(
    fake_tts: FakeKyutaiTts, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    tts = make_tts(fake_tts.base_url)
    synthesis = await tts.start(VOICE, "en")
    await speak(synthesis, "Hello.")
    (connection,) = fake_tts.connections
    assert connection.voice == "unmute-prod-website/developer-1.mp3"
    # Escaped as unmute escapes it: the slash too, so the path is one value.
    assert "voice=unmute-prod-website%2Fdeveloper-1.mp3" in connection.query_string
    assert connection.format == "PcmMessagePack"
    assert connection.api_key == API_KEY


async def test_audio_comes_in_order_with_the_chunk_each_piece_belongs_to(
    fake_tts: FakeKyutaiTts, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    tts = make_tts(fake_tts.base_url)
    synthesis = await tts.start(VOICE, "en")
    pieces = await speak(synthesis, "Hello there.", "How are you today?")
    (connection,) = fake_tts.connections
    assert connection.words == ["Hello", "there.", "How", "are", "you", "today?"]
    assert connection.eos
    assert connection.finished

    words = connection.words
    speech = [tone(word, index) for index, word in enumerate(words)]
    expected = np.concatenate([np.zeros(TTS_LEAD_SAMPLES, dtype=np.float32), *speech])
    heard = np.concatenate([piece.pcm for piece in pieces])
    np.testing.assert_array_equal(heard, expected)  # every sample, in order, none lost

    chunks = [piece.chunk_index for piece in pieces]
    assert chunks == sorted(chunks)
    first_chunk = sum(len(piece.pcm) for piece in pieces if piece.chunk_index == 0)
    assert first_chunk == TTS_LEAD_SAMPLES + len(speech[0]) + len(speech[1])
    # The second chunk began inside a server message: the adapter cut the message there.
    assert first_chunk % 1920 != 0


async def test_aclose_stops_the_answer_at_once(
    aiohttp_server: AiohttpServer, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    fake = await start_fake_tts(aiohttp_server, frame_delay=0.05)
    tts = make_tts(fake.base_url)
    synthesis = await tts.start(VOICE, "en")
    await synthesis.send_text("This answer is long enough to be interrupted well before its end.")
    await synthesis.end()
    audio = synthesis.audio()
    first = await anext(audio)
    assert first.chunk_index == 0
    await synthesis.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(audio)  # nothing more, not even what was already on its way
    (connection,) = fake.connections
    await fake.wait_until(lambda: connection.closed)
    assert not connection.finished
    await synthesis.aclose()  # idempotent
    await synthesis.send_text("ignored")  # the pipeline may race a barge-in; no error


async def test_aclose_ends_an_audio_read_waiting_in_another_task(
    aiohttp_server: AiohttpServer, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    fake = await start_fake_tts(aiohttp_server)
    tts = make_tts(fake.base_url)
    synthesis = await tts.start(VOICE, "en")
    pieces: list[SpokenAudio] = []

    async def listen() -> None:
        pieces.extend([piece async for piece in synthesis.audio()])

    listener = asyncio.create_task(listen())
    await fake.wait_until(lambda: len(fake.connections) == 1)
    await synthesis.aclose()
    async with asyncio.timeout(WAIT_GUARD_SECONDS):
        await listener
    assert pieces == []
    await fake.wait_until(lambda: fake.connections[0].closed)


async def test_a_character_without_a_kyutai_voice_is_refused_before_connecting(
    fake_tts: FakeKyutaiTts, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    tts = make_tts(fake_tts.base_url)
    with pytest.raises(VoiceEngineError) as raised:
        await tts.start(VoiceChoice(kyutai=None, embedded="en", openai="alloy"), "en")
    assert raised.value.code is VoiceErrorCode.UNSUPPORTED
    assert "path_on_server" in raised.value.message
    assert fake_tts.connections == []


# --------------------------------------------------------------------------- failures


async def test_a_refused_connection_is_unavailable(
    refused_url: str, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    tts = make_tts(refused_url)
    with pytest.raises(VoiceEngineError) as raised:
        await tts.start(VOICE, "en")
    assert raised.value.code is VoiceErrorCode.UNAVAILABLE
    assert_safe(raised.value, refused_url)


async def test_a_wrong_api_key_is_rejected(
    fake_tts: FakeKyutaiTts, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    tts = make_tts(fake_tts.base_url, api_key="not-the-key")
    with pytest.raises(VoiceEngineError) as raised:
        await tts.start(VOICE, "en")
    assert raised.value.code is VoiceErrorCode.REJECTED
    assert "not-the-key" not in raised.value.message
    assert_safe(raised.value, fake_tts.base_url)


@pytest.mark.parametrize(
    ("failure", "code"),
    [("error_at_start", VoiceErrorCode.REJECTED), ("stall_at_start", VoiceErrorCode.TIMEOUT)],
)
async def test_a_failure_to_start_has_its_code(
    aiohttp_server: AiohttpServer,
    failure: str,
    code: VoiceErrorCode,
    make_tts: Callable[..., KyutaiTextToSpeech],
) -> None:
    fake = await start_fake_tts(aiohttp_server, fail=failure)
    tts = make_tts(fake.base_url, connect_timeout=0.3)
    with pytest.raises(VoiceEngineError) as raised:
        await tts.start(VOICE, "en")
    assert raised.value.code is code
    assert_safe(raised.value, fake.base_url)
    await fake.wait_until(lambda: fake.connections[0].closed)


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ("error", VoiceErrorCode.REJECTED),
        ("bad_msgpack", VoiceErrorCode.BAD_RESPONSE),
        ("stall", VoiceErrorCode.TIMEOUT),
    ],
)
async def test_a_failure_mid_answer_has_its_code(
    aiohttp_server: AiohttpServer,
    failure: str,
    code: VoiceErrorCode,
    make_tts: Callable[..., KyutaiTextToSpeech],
) -> None:
    fake = await start_fake_tts(aiohttp_server, fail=failure, fail_after_words=1)
    tts = make_tts(fake.base_url, idle_timeout=0.3)
    synthesis = await tts.start(VOICE, "en")
    with pytest.raises(VoiceEngineError) as raised:
        await speak(synthesis, "One two three.")
    assert raised.value.code is code
    assert_safe(raised.value, fake.base_url)
    await fake.wait_until(lambda: fake.connections[0].closed)


async def test_a_server_silent_after_eos_times_out_with_its_message(
    aiohttp_server: AiohttpServer,
    make_tts: Callable[..., KyutaiTextToSpeech],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = await start_fake_tts(aiohttp_server, fail="stall", fail_after_words=1)
    tts = make_tts(fake.base_url, idle_timeout=0.3)
    synthesis = await tts.start(VOICE, "en")
    with pytest.raises(VoiceEngineError) as raised:
        await speak(synthesis, "One two three.")
    assert_idle_timeout(raised.value, caplog, "text-to-speech")


async def test_a_reader_back_after_the_bound_with_nothing_to_read_times_out_at_once(
    aiohttp_server: AiohttpServer, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    # The answer's consumer is busy elsewhere (a slow client) while the server goes silent after
    # Eos: once it asks for more, the bound has already passed and nothing is waiting, so the
    # error comes at once, not one idle period later.
    fake = await start_fake_tts(aiohttp_server, fail="stall", fail_after_words=1)
    idle = 2.0
    tts = make_tts(fake.base_url, idle_timeout=idle)
    synthesis = await tts.start(VOICE, "en")
    await synthesis.send_text("One two.")
    await synthesis.end()
    audio = synthesis.audio()
    await anext(audio)
    await anext(audio)  # the two whole frames "One" makes; the fake says nothing more
    await asyncio.sleep(idle * 1.1)
    with pytest.raises(VoiceEngineError) as raised:
        async with asyncio.timeout(idle / 2):  # one idle period later would be 0.9 idle
            await anext(audio)
    assert raised.value.code is VoiceErrorCode.TIMEOUT


async def test_a_server_that_closes_before_eos_is_unavailable(
    aiohttp_server: AiohttpServer, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    fake = await start_fake_tts(aiohttp_server, fail="close", fail_after_words=1)
    tts = make_tts(fake.base_url)
    synthesis = await tts.start(VOICE, "en")
    await synthesis.send_text("One two.")
    with pytest.raises(VoiceEngineError) as raised:
        [piece async for piece in synthesis.audio()]
    assert raised.value.code is VoiceErrorCode.UNAVAILABLE
    assert_safe(raised.value, fake.base_url)


async def test_silence_before_eos_is_not_a_timeout(
    aiohttp_server: AiohttpServer, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    # The model waits for look-ahead words: an answer whose next text is slow to come must not
    # fail, however long the LLM takes.
    fake = await start_fake_tts(aiohttp_server)
    tts = make_tts(fake.base_url, idle_timeout=0.1)
    synthesis = await tts.start(VOICE, "en")
    await synthesis.send_text("First.")
    audio = synthesis.audio()
    await anext(audio)
    await asyncio.sleep(0.3)  # three idle timeouts with nothing owed
    await synthesis.send_text("Second.")
    await synthesis.end()
    rest = [piece async for piece in audio]
    assert rest[-1].chunk_index == 1


# --------------------------------------------------------------------------- probe


async def test_probe_says_whether_the_server_is_up(
    aiohttp_server: AiohttpServer, refused_url: str, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    up = await start_fake_tts(aiohttp_server)
    unhealthy = await start_fake_tts(aiohttp_server, healthy=False)
    results = []
    for url in (up.base_url, unhealthy.base_url, refused_url):
        tts = make_tts(url)
        results.append(await tts.probe())
        await tts.aclose()
    assert results == [True, False, False]


# --------------------------------------------------------------------------- the timeline rule


def word(start_s: float) -> TextAlignment:
    return TextAlignment("w", start_s, start_s + 0.1)


def ones(samples: int) -> np.ndarray:
    return np.ones(samples, dtype=np.float32)


def test_timeline_cuts_audio_where_a_chunks_first_word_starts() -> None:
    timeline = ChunkTimeline()
    timeline.add_chunk(0, 2)
    timeline.add_chunk(1, 1)
    for start in (0.0, 0.05, 0.1):
        timeline.align(word(start))
    pieces = timeline.split(ones(int(0.15 * SAMPLE_RATE)))
    assert [(piece.chunk_index, len(piece.pcm)) for piece in pieces] == [(0, 2400), (1, 1200)]


def test_timeline_gives_late_timings_the_audio_still_to_come() -> None:
    timeline = ChunkTimeline()
    timeline.add_chunk(0, 1)
    timeline.add_chunk(1, 1)
    timeline.align(word(0.0))
    assert [piece.chunk_index for piece in timeline.split(ones(4800))] == [0]
    timeline.align(word(0.1))  # starts at sample 2400, already heard as chunk 0
    assert [piece.chunk_index for piece in timeline.split(ones(100))] == [1]


def test_timeline_counts_extra_server_words_for_the_last_chunk_and_skips_empty_chunks() -> None:
    timeline = ChunkTimeline()
    timeline.add_chunk(0, 1)
    timeline.add_chunk(1, 0)  # nothing to say: no audio can belong to it
    timeline.add_chunk(2, 1)
    for start in (0.0, 0.1, 0.2):  # the server split a word in two
        timeline.align(word(start))
    pieces = timeline.split(ones(int(0.3 * SAMPLE_RATE)))
    assert [(piece.chunk_index, len(piece.pcm)) for piece in pieces] == [(0, 2400), (2, 4800)]


async def test_more_answers_than_aiohttps_default_pool_can_be_in_flight_at_once(
    fake_tts: FakeKyutaiTts, make_tts: Callable[..., KyutaiTextToSpeech]
) -> None:
    # Every live answer holds a WebSocket; a pooled session's default limit (100) would make
    # the 101st wait for a free connection and time out.
    tts = make_tts(fake_tts.base_url, connect_timeout=5.0)
    syntheses = await asyncio.gather(*(tts.start(VOICE, "en") for _ in range(110)))
    assert len(fake_tts.connections) == 110
    await asyncio.gather(*(synthesis.aclose() for synthesis in syntheses))
    await fake_tts.wait_until(lambda: all(c.closed for c in fake_tts.connections))
