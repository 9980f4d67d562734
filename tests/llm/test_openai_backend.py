"""The OpenAI-compatible backend through its real HTTP client against the fake SSE server."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import pytest
from pytest_aiohttp import AiohttpServer

from tests.fake_llm import FakeLLM, RawReply, SilentReply, StatusReply, StreamReply, start_fake_llm
from unmute_server.llm import (
    ChatMessage,
    LLMError,
    LLMErrorCode,
    LLMSettings,
    OpenAICompatibleBackend,
)
from unmute_server.llm._sse import MAX_EVENT_BYTES
from unmute_server.llm.openai_backend import NO_API_KEY

API_KEY = "sk-test-secret-0123456789"
MESSAGES = (ChatMessage("system", "You are Ada."), ChatMessage("user", "Hi"))


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> FakeLLM:
    return await start_fake_llm(aiohttp_server)


async def _backend(fake: FakeLLM, **overrides: Any) -> OpenAICompatibleBackend:
    values: dict[str, Any] = {"url": fake.base_url, "model": "fake-model", "api_key": API_KEY}
    values.update(overrides)
    return OpenAICompatibleBackend(LLMSettings(**values))


@pytest.fixture
async def backend(fake: FakeLLM) -> AsyncIterator[OpenAICompatibleBackend]:
    backend = await _backend(fake)
    yield backend
    await backend.aclose()


async def _collect(backend: OpenAICompatibleBackend) -> list[str]:
    async with aclosing(backend.stream(MESSAGES)) as deltas:
        return [delta async for delta in deltas]


async def _failure(backend: OpenAICompatibleBackend) -> LLMError:
    with pytest.raises(LLMError) as caught:
        await _collect(backend)
    return caught.value


def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events)


def _chunk(content: object = None, finish_reason: str | None = None) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


async def test_deltas_arrive_in_order_and_the_request_carries_model_messages_and_key(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(chunks=("Hel", "lo", "!")))

    assert await _collect(backend) == ["Hel", "lo", "!"]

    request = fake.requests[0]
    assert request.body["model"] == "fake-model"
    assert request.body["stream"] is True
    assert request.messages == [
        {"role": "system", "content": "You are Ada."},
        {"role": "user", "content": "Hi"},
    ]
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert "max_tokens" not in request.body
    assert request.completed


async def test_max_tokens_is_sent_when_set(fake: FakeLLM) -> None:
    backend = await _backend(fake, max_tokens=64)
    try:
        await _collect(backend)
    finally:
        await backend.aclose()
    assert fake.requests[0].body["max_tokens"] == 64


async def test_without_a_key_a_placeholder_is_sent_never_the_process_openai_key(
    fake: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    backend = await _backend(fake, api_key=None)
    try:
        await _collect(backend)
    finally:
        await backend.aclose()
    assert fake.requests[0].headers["Authorization"] == f"Bearer {NO_API_KEY}"


async def test_stopping_early_closes_the_upstream_request(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(chunks=("first",), then="stall"))
    async with aclosing(backend.stream(MESSAGES)) as deltas:
        async for delta in deltas:
            assert delta == "first"
            break
    await fake.wait_until(lambda: fake.requests[0].disconnected)


async def test_usage_chunks_without_choices_and_empty_deltas_are_skipped(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    usage = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    fake.enqueue(
        RawReply(
            _sse(
                _chunk(""),
                _chunk("Hi"),
                _chunk(None, finish_reason="length"),
                {**usage, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
            )
            + b"data: [DONE]\n\n"
        )
    )
    assert await _collect(backend) == ["Hi"]


async def test_no_text_within_the_first_token_timeout_is_llm_timeout_and_closes_upstream(
    fake: FakeLLM,
) -> None:
    fake.enqueue(SilentReply())
    backend = await _backend(fake, first_token_timeout=0.2, total_timeout=5)
    try:
        error = await _failure(backend)
    finally:
        await backend.aclose()
    assert error == LLMError(LLMErrorCode.TIMEOUT, "the LLM sent no text within 0.2 s")
    await fake.wait_until(lambda: fake.requests[0].disconnected)


async def test_an_answer_longer_than_the_total_timeout_is_llm_timeout(fake: FakeLLM) -> None:
    # Text keeps coming, so neither the first-token nor the stall deadline passes: only the total.
    fake.enqueue(StreamReply(chunks=("word ",) * 1000, delay=0.02))
    backend = await _backend(fake, first_token_timeout=5, total_timeout=0.3)
    try:
        error = await _failure(backend)
    finally:
        await backend.aclose()
    assert error == LLMError(LLMErrorCode.TIMEOUT, "the LLM answer took longer than 0.3 s")
    await fake.wait_until(lambda: fake.requests[0].disconnected)


async def test_an_http_error_names_the_status_but_never_the_body_or_key(
    fake: FakeLLM, backend: OpenAICompatibleBackend, caplog: pytest.LogCaptureFixture
) -> None:
    fake.enqueue(StatusReply(401, f"Incorrect API key provided: {API_KEY}"))
    with caplog.at_level(logging.WARNING):
        error = await _failure(backend)
    assert error == LLMError(
        LLMErrorCode.HTTP_ERROR, "the LLM server answered HTTP 401 Unauthorized"
    )
    assert "401" in caplog.text
    assert API_KEY not in caplog.text


async def test_an_error_reported_inside_the_stream_is_llm_http_error(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(RawReply(_sse(_chunk("Hi"), {"error": {"message": "model overloaded"}})))
    error = await _failure(backend)
    assert error == LLMError(
        LLMErrorCode.HTTP_ERROR, "the LLM server reported an error in the stream"
    )


async def test_a_stream_that_stalls_after_text_is_llm_timeout_and_closes_upstream(
    fake: FakeLLM,
) -> None:
    fake.enqueue(StreamReply(chunks=("first",), then="stall"))
    backend = await _backend(fake, first_token_timeout=0.3, total_timeout=30)
    try:
        error = await _failure(backend)
    finally:
        await backend.aclose()
    assert error == LLMError(LLMErrorCode.TIMEOUT, "the LLM stream stalled for more than 0.3 s")
    await fake.wait_until(lambda: fake.requests[0].disconnected)


async def test_an_http_error_with_a_json_body_tells_the_client_the_status_and_the_log_the_body(
    fake: FakeLLM, backend: OpenAICompatibleBackend, caplog: pytest.LogCaptureFixture
) -> None:
    fake.enqueue(StatusReply(503, f"all replicas busy (key {API_KEY})"))
    with caplog.at_level(logging.WARNING):
        error = await _failure(backend)
    assert error == LLMError(
        LLMErrorCode.HTTP_ERROR, "the LLM server answered HTTP 503 Service Unavailable"
    )
    assert "all replicas busy" in caplog.text  # the operator sees why
    assert API_KEY not in caplog.text


async def test_the_request_asks_for_an_event_stream(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    await _collect(backend)
    assert fake.requests[0].headers["Accept"] == "text/event-stream"


async def test_a_base_url_with_a_trailing_slash_reaches_the_same_endpoint(fake: FakeLLM) -> None:
    backend = await _backend(fake, url=fake.base_url + "/")
    try:
        assert await _collect(backend) == ["Hello", " there", "."]
    finally:
        await backend.aclose()


async def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_logged(
    fake: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    # As the `openai` client did: credentials written into the URL replace the bearer key.
    url = fake.base_url.replace("http://", "http://operator:p4ss-word@")
    fake.enqueue(StreamReply(), StatusReply(500, "no"))
    backend = await _backend(fake, url=url)
    try:
        await _collect(backend)
        with caplog.at_level(logging.DEBUG):
            await _failure(backend)
    finally:
        await backend.aclose()
    expected = base64.b64encode(b"operator:p4ss-word").decode()
    assert fake.requests[0].headers["Authorization"] == f"Basic {expected}"
    assert "p4ss-word" not in caplog.text


async def test_an_event_split_across_reads_is_put_back_together(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    gate = asyncio.Event()
    second = _sse(_chunk("lo"))
    fake.enqueue(
        RawReply(
            _sse(_chunk("Hel")) + second[:20],
            gate=gate,
            rest=second[20:] + _sse(_chunk(None, finish_reason="stop")) + b"data: [DONE]\n\n",
        )
    )
    async with aclosing(backend.stream(MESSAGES)) as deltas:
        assert await anext(deltas) == "Hel"  # so the rest of "lo" is in a later read
        gate.set()
        assert [delta async for delta in deltas] == ["lo"]


async def test_crlf_line_ends_work_even_split_between_the_cr_and_the_lf(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    # The second event's JSON spans two `data:` lines (joined by a line feed, as the standard
    # says); its first line end is split across reads, so a lone LF read as a blank line would
    # end the event early with half its JSON.
    gate = asyncio.Event()
    first = b'data: {"choices": [{"index": 0, "delta": {"content": "Hel"}}]}\r\n\r\n'
    fake.enqueue(
        RawReply(
            first + b'data: {"choices": [{"index": 0,\r',
            gate=gate,
            rest=b'\ndata: "delta": {"content": "lo"}, "finish_reason": "stop"}]}\r\n\r\n'
            b"data: [DONE]\r\n\r\n",
        )
    )
    async with aclosing(backend.stream(MESSAGES)) as deltas:
        assert await anext(deltas) == "Hel"
        gate.set()
        assert [delta async for delta in deltas] == ["lo"]


async def test_comments_other_fields_and_events_without_data_are_skipped(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(
        RawReply(
            b": keep-alive\n\n"
            b"event: message\nid: 7\nretry: 1000\n"
            + _sse(_chunk("Hi"))
            + b"event: ping\n\n"
            + _sse(_chunk(None, finish_reason="stop"))
            + b"data: [DONE]\n\n"
        )
    )
    assert await _collect(backend) == ["Hi"]


async def test_done_ends_the_answer_and_nothing_after_it_is_parsed(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(
        RawReply(
            _sse(_chunk("Hi"), _chunk(None, finish_reason="stop"))
            + b"data: [DONE]\n\n"
            + b"data: {not json\n\n"
        )
    )
    assert await _collect(backend) == ["Hi"]


async def test_a_200_answer_that_is_not_an_event_stream_is_llm_bad_stream(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(
        RawReply(b"<html><body>Welcome to nginx!</body></html>\n", content_type="text/html")
    )
    assert await _failure(backend) == LLMError(
        LLMErrorCode.BAD_STREAM, "the LLM server answered with something other than an event stream"
    )


async def test_an_endless_line_is_llm_bad_stream_before_it_fills_memory(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(RawReply(b"data: " + b"x" * (2 * MAX_EVENT_BYTES)))
    assert await _failure(backend) == LLMError(
        LLMErrorCode.BAD_STREAM, "the LLM server sent an event longer than 16 MiB"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"data: {not json\n\n", "the LLM server sent a malformed stream"),
        (b"data: [1, 2]\n\n", "the LLM server sent a chunk without choices"),
        (_sse({"id": "c", "choices": "none"}), "the LLM server sent a chunk without choices"),
        (_sse(_chunk(42)), "the LLM server sent non-text content"),
        (_sse(_chunk("cut short")), "the LLM stream ended before the model finished its answer"),
        (b"", "the LLM stream ended before the model finished its answer"),
        (
            _sse(_chunk("cut short")) + b"data: [DONE]\n\n",
            "the LLM stream ended before the model finished its answer",
        ),
    ],
    ids=[
        "not_json",
        "not_an_object",
        "choices_not_a_list",
        "content_not_text",
        "no_finish",
        "empty",
        "done_before_finish",
    ],
)
async def test_a_malformed_stream_is_llm_bad_stream(
    fake: FakeLLM, backend: OpenAICompatibleBackend, body: bytes, message: str
) -> None:
    fake.enqueue(RawReply(body))
    assert await _failure(backend) == LLMError(LLMErrorCode.BAD_STREAM, message)


async def test_a_connection_dropped_mid_stream_is_llm_bad_stream(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(then="close"))
    deltas: list[str] = []

    async def read_all() -> None:
        async with aclosing(backend.stream(MESSAGES)) as stream:
            async for delta in stream:
                deltas.append(delta)

    with pytest.raises(LLMError) as caught:
        await read_all()
    assert deltas == ["Hello", " there", "."]
    assert caught.value == LLMError(
        LLMErrorCode.BAD_STREAM, "the LLM server closed the stream before the answer was complete"
    )


async def test_one_backend_serves_many_requests_over_its_pool(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    for _ in range(5):
        assert await _collect(backend) == ["Hello", " there", "."]
    assert len(fake.requests) == 5
    assert all(request.completed for request in fake.requests)


async def test_answers_read_to_the_end_leave_their_connection_to_the_next(
    fake: FakeLLM, backend: OpenAICompatibleBackend
) -> None:
    for _ in range(3):
        await _collect(backend)
    assert len({request.connection for request in fake.requests}) == 1
