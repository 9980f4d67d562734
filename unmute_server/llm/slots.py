"""A bound on the answers one process streams at once, with a fair queue for the rest.

A CPU model generates a few answers at once at best: each more one slows every answer, and
llama.cpp's own queue cannot tell a session that hung up from one that waits. `SlotLimitedBackend`
puts the process's own queue in front of any backend: at most `slots` streams run, the others
wait in the order they asked (an `asyncio.Semaphore` wakes waiters first in, first out), a
waiter that is cancelled (barge-in, `response.cancel`, a disconnect) leaves the queue at once,
and a running stream gives its slot back the moment it is closed, which the conversation does
at once on cancel, before `response.done`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from .backend import ChatBackend, ChatMessage
from .errors import LLMError, LLMErrorCode


@dataclass(frozen=True, slots=True)
class SlotUsage:
    """A snapshot for `/v1/health`: slots in all, streams holding one, requests waiting."""

    slots: int
    busy: int
    waiting: int


class SlotLimitedBackend:
    """`inner` with at most `slots` streams at once; a request waits at most `wait_timeout`
    seconds for a slot before it fails with `llm_timeout`."""

    __slots__ = ("_busy", "_inner", "_semaphore", "_slots", "_wait_timeout", "_waiting")

    def __init__(self, inner: ChatBackend, slots: int, *, wait_timeout: float) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self._inner = inner
        self._slots = slots
        self._semaphore = asyncio.Semaphore(slots)
        self._wait_timeout = wait_timeout
        self._busy = 0
        self._waiting = 0

    @property
    def usage(self) -> SlotUsage:
        return SlotUsage(self._slots, self._busy, self._waiting)

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        """The inner backend's stream, once a slot is free; see `ChatBackend.stream`."""
        self._waiting += 1
        try:
            async with asyncio.timeout(self._wait_timeout):
                await self._semaphore.acquire()
        except TimeoutError:
            raise LLMError(
                LLMErrorCode.TIMEOUT,
                f"all {self._slots} LLM slots stayed busy for {self._wait_timeout:g} s",
            ) from None
        finally:
            self._waiting -= 1
        self._busy += 1
        try:
            async with aclosing(self._inner.stream(messages)) as deltas:
                async for delta in deltas:
                    yield delta
        finally:
            self._busy -= 1
            self._semaphore.release()

    async def aclose(self) -> None:
        await self._inner.aclose()
