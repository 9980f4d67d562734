"""The slot queue in front of a backend: a bound, first come first served, and nothing held by a
request that is gone. Real `OpenAICompatibleBackend` against the fake SSE server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest
from pytest_aiohttp import AiohttpServer

from tests.fake_llm import FakeLLM, StreamReply, start_fake_llm
from tests.server.conftest import until
from unmute_server.llm import ChatMessage, LLMError, LLMErrorCode, LLMSettings
from unmute_server.llm.openai_backend import OpenAICompatibleBackend
from unmute_server.llm.slots import SlotLimitedBackend, SlotUsage


def messages(question: str) -> list[ChatMessage]:
    return [ChatMessage("user", question)]


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> FakeLLM:
    return await start_fake_llm(aiohttp_server)


@pytest.fixture
async def inner(fake: FakeLLM) -> AsyncIterator[OpenAICompatibleBackend]:
    backend = OpenAICompatibleBackend(LLMSettings(url=fake.base_url, model="m"))
    yield backend
    await backend.aclose()


async def answer(backend: SlotLimitedBackend, question: str) -> str:
    async with aclosing(backend.stream(messages(question))) as deltas:
        return "".join([delta async for delta in deltas])


async def test_no_more_streams_than_slots_run_and_the_waiting_ones_go_in_order(
    fake: FakeLLM, inner: OpenAICompatibleBackend
) -> None:
    gate = asyncio.Event()
    fake.enqueue(StreamReply(chunks=("first",), gate=gate))
    fake.default = StreamReply(chunks=("next",))
    backend = SlotLimitedBackend(inner, 1, wait_timeout=30)
    first = asyncio.create_task(answer(backend, "q0"))
    await fake.wait_until(lambda: len(fake.requests) == 1)
    waiters = []
    for number in range(1, 4):
        waiters.append(asyncio.create_task(answer(backend, f"q{number}")))
        await until(lambda n=number: backend.usage.waiting == n, f"{number} waiting")  # type: ignore[misc]
    assert backend.usage == SlotUsage(slots=1, busy=1, waiting=3)
    assert len(fake.requests) == 1  # the others wait here, not in the LLM server's queue
    gate.set()
    assert await first == "first"
    assert await asyncio.gather(*waiters) == ["next"] * 3
    asked = [request.messages[-1]["content"] for request in fake.requests]
    assert asked == ["q0", "q1", "q2", "q3"]
    assert backend.usage == SlotUsage(slots=1, busy=0, waiting=0)


async def test_a_cancelled_waiter_leaves_the_queue_and_takes_no_slot(
    fake: FakeLLM, inner: OpenAICompatibleBackend
) -> None:
    gate = asyncio.Event()
    fake.enqueue(StreamReply(chunks=("first",), gate=gate))
    fake.default = StreamReply(chunks=("later",))
    backend = SlotLimitedBackend(inner, 1, wait_timeout=30)
    first = asyncio.create_task(answer(backend, "q0"))
    await fake.wait_until(lambda: len(fake.requests) == 1)
    gone = asyncio.create_task(answer(backend, "gone"))
    kept = asyncio.create_task(answer(backend, "kept"))
    await until(lambda: backend.usage.waiting == 2, "two waiting")
    gone.cancel()
    await asyncio.wait({gone})
    assert backend.usage.waiting == 1
    gate.set()
    assert (await first, await kept) == ("first", "later")
    assert [request.messages[-1]["content"] for request in fake.requests] == ["q0", "kept"]


async def test_closing_a_stream_early_frees_its_slot_and_its_request_at_once(
    fake: FakeLLM, inner: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(chunks=("a", "b"), then="stall"))
    backend = SlotLimitedBackend(inner, 1, wait_timeout=30)
    async with aclosing(backend.stream(messages("q"))) as deltas:
        assert await anext(deltas) == "a"
        assert backend.usage.busy == 1
    assert backend.usage == SlotUsage(slots=1, busy=0, waiting=0)
    await fake.wait_until(lambda: fake.disconnects == 1)
    assert await answer(backend, "again") == "Hello there."


async def test_a_request_that_waits_too_long_for_a_slot_fails_with_llm_timeout(
    fake: FakeLLM, inner: OpenAICompatibleBackend
) -> None:
    fake.enqueue(StreamReply(chunks=("a",), then="stall"))
    backend = SlotLimitedBackend(inner, 1, wait_timeout=0.2)
    async with aclosing(backend.stream(messages("q"))) as holder:
        await anext(holder)
        with pytest.raises(LLMError) as caught:
            await answer(backend, "late")
    assert caught.value == LLMError(LLMErrorCode.TIMEOUT, "all 1 LLM slots stayed busy for 0.2 s")
    assert backend.usage == SlotUsage(slots=1, busy=0, waiting=0)
