"""The OpenAI-compatible backend through the real `openai` client against the fake SSE server."""

from __future__ import annotations

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


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"data: {not json\n\n", "the LLM server sent a malformed stream"),
        (b"data: [1, 2]\n\n", "the LLM server sent a chunk without choices"),
        (_sse({"id": "c", "choices": "none"}), "the LLM server sent a chunk without choices"),
        (_sse(_chunk(42)), "the LLM server sent non-text content"),
        (_sse(_chunk("cut short")), "the LLM stream ended before the model finished its answer"),
        (b"", "the LLM stream ended before the model finished its answer"),
    ],
    ids=[
        "not_json",
        "not_an_object",
        "choices_not_a_list",
        "content_not_text",
        "no_finish",
        "empty",
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
