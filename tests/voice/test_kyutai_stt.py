"""KyutaiSpeechToText against a fake moshi-server STT on loopback: real sockets and MessagePack."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest
from pytest_aiohttp import AiohttpServer

from tests.fake_kyutai import API_KEY, WAIT_GUARD_SECONDS, FakeKyutaiStt, start_fake_stt
from tests.voice.kyutai_timeouts import assert_idle_timeout, timeout_logs
from unmute_server.voice.audio import SAMPLE_RATE, Pcm
from unmute_server.voice.errors import VoiceEngineError, VoiceErrorCode
from unmute_server.voice.stt.kyutai import (
    FLUSH_BURST_FRAMES,
    FLUSH_MAX_FRAMES,
    PAUSE_WARMUP_STEPS,
    KyutaiSpeechToText,
)

FRAME = 1920


def speech(samples: int) -> Pcm:
    """A tone the fake counts as speech."""
    t = np.arange(samples) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


@pytest.fixture
def make_stt(
    closing: Callable[[KyutaiSpeechToText], KyutaiSpeechToText],
) -> Callable[..., KyutaiSpeechToText]:
    """Adapters for a test, closed when it ends; timeouts generous unless the test sets them."""

    def make(
        url: str,
        *,
        api_key: str | None = API_KEY,
        connect_timeout: float = WAIT_GUARD_SECONDS,
        idle_timeout: float = WAIT_GUARD_SECONDS,
    ) -> KyutaiSpeechToText:
        return closing(
            KyutaiSpeechToText(
                url, api_key=api_key, connect_timeout=connect_timeout, idle_timeout=idle_timeout
            )
        )

    return make


async def eventually(predicate: Callable[[], bool]) -> None:
    """Wait (bounded) for state the adapter's reader task updates.

    Polling: the state is the adapter's own (its partials, its pause estimate), which has no
    event to wait on, and the test must not add one to the code under test.
    """
    async with asyncio.timeout(WAIT_GUARD_SECONDS):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def assert_safe(error: VoiceEngineError, url: str) -> None:
    """A client-facing message names neither the server nor the key."""
    host_port = url.removeprefix("ws://")
    for secret in (host_port, host_port.split(":")[1], "127.0.0.1", "ws://", API_KEY):
        assert secret not in error.message
    assert str(error) == error.message


async def test_words_arrive_as_partials_before_the_final_transcript(
    fake_stt: FakeKyutaiStt, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(fake_stt.base_url)
    partials: list[str] = []
    transcription = await stt.start("en", partials.append)
    await transcription.feed(speech(2 * FRAME))
    await eventually(lambda: partials == ["hello"])
    await transcription.feed(speech(4 * FRAME))
    await eventually(lambda: len(partials) == 3)
    assert await transcription.finish() == "hello kyutai world"
    assert partials == ["hello", "hello kyutai", "hello kyutai world"]


async def test_audio_goes_out_in_frames_of_1920_samples_whatever_the_feed_sizes(
    fake_stt: FakeKyutaiStt, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(fake_stt.base_url)
    transcription = await stt.start("en", lambda _text: None)
    sizes = [1, 1919, 3000, 500, 7, 4000, 1920]
    for size in sizes:
        await transcription.feed(speech(size))
    await transcription.finish()
    (connection,) = fake_stt.connections
    assert set(connection.frame_sizes) == {FRAME}
    audio_frames = len(connection.frame_sizes) - connection.frames_after_marker
    assert audio_frames == -(-sum(sizes) // FRAME)  # the last partial frame is padded, not lost


async def test_a_partial_frame_waits_as_it_was_fed_even_if_the_caller_reuses_its_buffer(
    fake_stt: FakeKyutaiStt, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    # The fake hears a word every two frames of speech: the second frame is speech only if the
    # 100 samples left over from the first feed are still the ones that were fed.
    stt = make_stt(fake_stt.base_url)
    transcription = await stt.start("en", lambda _text: None)
    chunk = speech(FRAME + 100)
    await transcription.feed(chunk)
    chunk[:] = 0.0  # a caller that reuses its buffer for the next audio
    await transcription.feed(np.zeros(FRAME - 100, dtype=np.float32))
    assert await transcription.finish() == "hello"


async def test_finish_sends_one_marker_then_silence_until_the_server_echoes_it(
    aiohttp_server: AiohttpServer, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    # A delay longer than the burst: the flush must keep sending silence until the echo.
    fake = await start_fake_stt(aiohttp_server, marker_delay_frames=FLUSH_BURST_FRAMES + 5)
    stt = make_stt(fake.base_url)
    transcription = await stt.start("en", lambda _text: None)
    await transcription.feed(speech(6 * FRAME))
    assert await transcription.finish() == "hello kyutai world"
    (connection,) = fake.connections
    assert len(connection.markers) == 1
    assert connection.echoed == connection.markers
    assert FLUSH_BURST_FRAMES + 5 <= connection.frames_after_marker <= FLUSH_MAX_FRAMES
    await fake.wait_until(lambda: connection.closed)


async def test_an_utterance_with_no_words_is_an_empty_transcript(
    fake_stt: FakeKyutaiStt, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(fake_stt.base_url)
    transcription = await stt.start("en", lambda _text: None)
    await transcription.feed(np.zeros(5 * FRAME, dtype=np.float32))
    assert await transcription.finish() == ""
    assert await transcription.finish() == ""  # asked again: the same answer, no new request


async def test_each_utterance_has_its_own_connection_with_the_api_key(
    fake_stt: FakeKyutaiStt, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(fake_stt.base_url)
    for _ in range(2):
        transcription = await stt.start("en", lambda _text: None)
        await transcription.feed(speech(2 * FRAME))
        assert await transcription.finish() == "hello"
    assert [connection.api_key for connection in fake_stt.connections] == [API_KEY, API_KEY]
    assert all(connection.closed for connection in fake_stt.connections)


async def test_pause_probability_follows_the_servers_prediction_after_its_warm_up(
    fake_stt: FakeKyutaiStt, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(fake_stt.base_url)
    transcription = await stt.start("en", lambda _text: None)
    await transcription.feed(speech(PAUSE_WARMUP_STEPS * FRAME))
    await fake_stt.wait_until(lambda: len(fake_stt.connections[0].frame_sizes) == 12)
    assert transcription.pause_probability is None  # the first second of predictions is noise
    await transcription.feed(speech(2 * FRAME))
    await eventually(lambda: transcription.pause_probability is not None)
    assert transcription.pause_probability == pytest.approx(0.05)
    await transcription.feed(np.zeros(2 * FRAME, dtype=np.float32))
    await eventually(lambda: transcription.pause_probability == pytest.approx(0.95))
    await transcription.aclose()


async def test_aclose_mid_utterance_closes_the_connection_at_once(
    fake_stt: FakeKyutaiStt, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(fake_stt.base_url)
    transcription = await stt.start("en", lambda _text: None)
    await transcription.feed(speech(3 * FRAME))
    await transcription.aclose()
    await transcription.aclose()  # idempotent
    await fake_stt.wait_until(lambda: fake_stt.connections[0].closed)
    assert fake_stt.connections[0].markers == []
    with pytest.raises(VoiceEngineError) as raised:
        await transcription.feed(speech(FRAME))
    assert raised.value.code is VoiceErrorCode.UNAVAILABLE


async def test_an_http_url_is_taken_as_the_websocket_server(
    fake_stt: FakeKyutaiStt, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(fake_stt.base_url.replace("ws://", "http://"))
    transcription = await stt.start("en", lambda _text: None)
    await transcription.feed(speech(2 * FRAME))
    assert await transcription.finish() == "hello"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1", "ws://", "127.0.0.1:8090"])
def test_a_url_that_is_not_a_websocket_server_is_refused_at_construction(
    url: str, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    with pytest.raises(ValueError, match="ws://, wss://, http:// or https://") as raised:
        make_stt(url)
    assert "127.0.0.1" not in str(raised.value)


# --------------------------------------------------------------------------- failures


async def test_a_refused_connection_is_unavailable(
    refused_url: str, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(refused_url)
    with pytest.raises(VoiceEngineError) as raised:
        await stt.start("en", lambda _text: None)
    assert raised.value.code is VoiceErrorCode.UNAVAILABLE
    assert_safe(raised.value, refused_url)


async def test_a_wrong_api_key_is_rejected(
    fake_stt: FakeKyutaiStt, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(fake_stt.base_url, api_key="not-the-key")
    with pytest.raises(VoiceEngineError) as raised:
        await stt.start("en", lambda _text: None)
    assert raised.value.code is VoiceErrorCode.REJECTED
    assert "API key" in raised.value.message
    assert "not-the-key" not in raised.value.message
    assert_safe(raised.value, fake_stt.base_url)


async def test_an_error_instead_of_ready_is_rejected(
    aiohttp_server: AiohttpServer, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    fake = await start_fake_stt(aiohttp_server, fail="error_at_start")
    stt = make_stt(fake.base_url)
    with pytest.raises(VoiceEngineError) as raised:
        await stt.start("en", lambda _text: None)
    assert raised.value.code is VoiceErrorCode.REJECTED
    assert "no free slot" not in raised.value.message  # the server's words go to the log only
    assert_safe(raised.value, fake.base_url)
    await fake.wait_until(lambda: fake.connections[0].closed)


async def test_a_server_that_never_says_ready_times_out(
    aiohttp_server: AiohttpServer, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    fake = await start_fake_stt(aiohttp_server, fail="stall_at_start")
    stt = make_stt(fake.base_url, connect_timeout=0.3)
    with pytest.raises(VoiceEngineError) as raised:
        await stt.start("en", lambda _text: None)
    assert raised.value.code is VoiceErrorCode.TIMEOUT
    assert_safe(raised.value, fake.base_url)
    await fake.wait_until(lambda: fake.connections[0].closed)


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ("error", VoiceErrorCode.REJECTED),
        ("close", VoiceErrorCode.UNAVAILABLE),
        ("bad_msgpack", VoiceErrorCode.BAD_RESPONSE),
        ("stall", VoiceErrorCode.TIMEOUT),
    ],
)
async def test_a_failure_mid_utterance_has_its_code(
    aiohttp_server: AiohttpServer,
    failure: str,
    code: VoiceErrorCode,
    make_stt: Callable[..., KyutaiSpeechToText],
) -> None:
    fake = await start_fake_stt(aiohttp_server, fail=failure, fail_after_frames=2)
    stt = make_stt(fake.base_url, idle_timeout=0.3)
    transcription = await stt.start("en", lambda _text: None)

    async def utterance() -> None:
        await transcription.feed(speech(4 * FRAME))
        await transcription.finish()

    with pytest.raises(VoiceEngineError) as raised:
        await utterance()
    assert raised.value.code is code
    assert_safe(raised.value, fake.base_url)
    await transcription.aclose()
    await fake.wait_until(lambda: fake.connections[0].closed)


async def test_the_adapter_refuses_new_utterances_once_closed(
    fake_stt: FakeKyutaiStt, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(fake_stt.base_url)
    await stt.aclose()
    with pytest.raises(VoiceEngineError) as raised:
        await stt.start("en", lambda _text: None)
    assert raised.value.code is VoiceErrorCode.UNAVAILABLE
    assert await stt.probe() is False


# --------------------------------------------------------------------------- probe


async def test_probe_is_true_when_the_server_answers_build_info(
    fake_stt: FakeKyutaiStt, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(fake_stt.base_url)
    assert await stt.probe() is True
    assert fake_stt.connections == []  # a probe opens no transcription


async def test_probe_is_false_when_nothing_listens(
    refused_url: str, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    stt = make_stt(refused_url)
    assert await stt.probe() is False


async def test_probe_is_false_when_the_server_is_unhealthy(
    aiohttp_server: AiohttpServer, make_stt: Callable[..., KyutaiSpeechToText]
) -> None:
    fake = await start_fake_stt(aiohttp_server, healthy=False)
    stt = make_stt(fake.base_url)
    assert await stt.probe() is False


# --------------------------------------------------------------------------- timeouts, exactly


async def test_a_server_that_stops_answering_mid_utterance_times_out_with_its_message(
    aiohttp_server: AiohttpServer,
    make_stt: Callable[..., KyutaiSpeechToText],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = await start_fake_stt(aiohttp_server, fail="stall", fail_after_frames=2)
    stt = make_stt(fake.base_url, idle_timeout=0.3)
    transcription = await stt.start("en", lambda _text: None)
    await transcription.feed(speech(4 * FRAME))
    with pytest.raises(VoiceEngineError) as raised:
        await transcription.finish()
    assert_idle_timeout(raised.value, caplog, "speech-to-text")
    await fake.wait_until(lambda: fake.connections[0].closed)


async def test_a_flush_whose_marker_never_comes_back_times_out(
    aiohttp_server: AiohttpServer,
    make_stt: Callable[..., KyutaiSpeechToText],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = await start_fake_stt(aiohttp_server, fail="stall_at_marker")
    stt = make_stt(fake.base_url, idle_timeout=0.3)
    transcription = await stt.start("en", lambda _text: None)
    await transcription.feed(speech(4 * FRAME))
    await fake.wait_until(lambda: len(fake.connections[0].frame_sizes) == 4)
    with pytest.raises(VoiceEngineError) as raised:
        await transcription.finish()
    assert_idle_timeout(raised.value, caplog, "speech-to-text")
    (connection,) = fake.connections
    assert connection.markers
    assert not connection.echoed
    await fake.wait_until(lambda: connection.closed)


async def test_a_server_that_stops_reading_makes_a_send_time_out_not_hang(
    aiohttp_server: AiohttpServer,
    make_stt: Callable[..., KyutaiSpeechToText],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = await start_fake_stt(aiohttp_server, fail="stop_reading", fail_after_frames=2)
    stt = make_stt(fake.base_url, idle_timeout=0.3)
    transcription = await stt.start("en", lambda _text: None)
    frame = speech(FRAME)

    async def feed_until_a_send_blocks() -> None:
        # A bounded number of frames: loopback buffers hold a few MiB at most; this is 50 MiB.
        for _ in range(5000):
            await transcription.feed(frame)

    try:
        with pytest.raises(VoiceEngineError) as raised:
            await feed_until_a_send_blocks()
        assert raised.value.code is VoiceErrorCode.TIMEOUT
        assert raised.value.message == (
            "the Kyutai speech-to-text server stopped reading for more than 0.3 s"
        )
        assert "Kyutai speech-to-text send: timed out" in timeout_logs(caplog)
        await transcription.aclose()
    finally:
        await fake.resume_reading()
    await fake.wait_until(lambda: fake.connections[0].closed)
