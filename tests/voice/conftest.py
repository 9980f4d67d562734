"""Voice test fixtures: fake Kyutai servers on loopback, and a port nothing listens on."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from typing import Protocol, TypeVar

import pytest
from pytest_aiohttp import AiohttpServer

from tests.fake_kyutai import FakeKyutaiStt, FakeKyutaiTts, start_fake_stt, start_fake_tts


@pytest.fixture
async def fake_stt(aiohttp_server: AiohttpServer) -> FakeKyutaiStt:
    """A fake Kyutai STT server with its default script (tests may change it before use)."""
    return await start_fake_stt(aiohttp_server)


@pytest.fixture
async def fake_tts(aiohttp_server: AiohttpServer) -> FakeKyutaiTts:
    """A fake Kyutai TTS server with its default script (tests may change it before use)."""
    return await start_fake_tts(aiohttp_server)


@pytest.fixture
def refused_url() -> str:
    """A loopback URL whose port was just free: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"ws://127.0.0.1:{port}"


class _Closable(Protocol):
    async def aclose(self) -> None: ...


Adapter = TypeVar("Adapter", bound=_Closable)


@pytest.fixture
async def closing() -> AsyncIterator[Callable[[Adapter], Adapter]]:
    """Register an adapter to be closed when the test ends, passed or failed."""
    adapters: list[_Closable] = []

    def register(adapter: Adapter) -> Adapter:
        adapters.append(adapter)
        return adapter

    yield register
    for adapter in adapters:
        await adapter.aclose()
