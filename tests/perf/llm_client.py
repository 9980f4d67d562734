"""``python -m tests.perf.llm_client``: CPU the LLM backend spends per streamed answer.

One answer is 20 text chunks from ``tests/fake_llm.py``, read to the end through
``OpenAICompatibleBackend``; the figure is ``time.process_time`` per answer, the best of three
runs of 200. The fake serves from a child process, so only the client's CPU is counted. Not part
of ``make bench``: it measured the move from the ``openai`` client to aiohttp (see
docs/benchmarks.md, voice section), and stays to measure the next change to the backend.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from multiprocessing.queues import Queue

from aiohttp import web

from tests.fake_llm import FakeLLM, StreamReply
from unmute_server.llm import ChatMessage, LLMSettings
from unmute_server.llm.openai_backend import OpenAICompatibleBackend

CHUNKS = tuple(f"word{index} " for index in range(20))
MESSAGES = (ChatMessage("system", "You are Ada."), ChatMessage("user", "Hi"))


def _serve(ports: Queue[int]) -> None:
    async def serve() -> None:
        fake = FakeLLM(default=StreamReply(chunks=CHUNKS))
        runner = web.AppRunner(fake.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp keeps the bound socket here; port 0 needs it
        assert isinstance(server, asyncio.Server)
        ports.put(server.sockets[0].getsockname()[1])
        while True:  # until the parent terminates this process
            fake.requests.clear()
            await asyncio.sleep(1)

    asyncio.run(serve())


async def cpu_per_answer(port: int, answers: int = 200, runs: int = 3) -> float:
    """Seconds of this process's CPU per answer, the best of `runs` runs of `answers`."""
    backend = OpenAICompatibleBackend(
        LLMSettings(url=f"http://127.0.0.1:{port}/v1", model="fake-model", api_key="k")
    )

    async def answer() -> None:
        deltas = [delta async for delta in backend.stream(MESSAGES)]
        assert deltas == list(CHUNKS), deltas

    try:
        for _ in range(10):  # connections and caches warm
            await answer()
        best = float("inf")
        for _ in range(runs):
            started = time.process_time()
            for _ in range(answers):
                await answer()
            best = min(best, (time.process_time() - started) / answers)
        return best
    finally:
        await backend.aclose()


def main() -> None:
    ports: Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=30)
        seconds = asyncio.run(cpu_per_answer(port))
        print(f"LLM backend: {seconds * 1e3:.2f} ms of CPU per answer of {len(CHUNKS)} chunks")
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
