"""The embedded LLM's figures, with a remote fake for the server's own share.

Through a real ``unmute-server serve`` and real WebSocket sessions speaking to Nova of the
bundled pack, one text turn at a time:

- **Time to first token, cold**: the first answer of a fresh server, whose model has never read
  the persona (its whole prompt is read first).
- **Time to first token, cached**: the first answer of a new session with the same character:
  the persona's stable start is in llama.cpp's prompt cache, only the per-session end is read.
- **Tokens per second**: text deltas (one token each) after the first, over the time they took.
- **Memory**: RSS of the server and of its model process after the turns.
- The same turn against the remote fake LLM (``tests/perf/voice_peers.py``, an instant
  answer) gives the server's own time to first token and rate, for comparison.
- **Threads** (full run only): tokens per second with 1 and with 2 threads, alternated, the
  measurement the ``--llm-threads`` default was chosen from.

Not in the quick run: each cold figure needs a fresh model (a few seconds each).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil  # type: ignore[import-untyped]  # no stubs in the test extras

from tests.perf.figures import Figure
from tests.perf.servers import ServerProcess, unmute_server
from tests.perf.voice import PACK, PACKS_ROOT, VoicePeers

CHARACTER = "Nova"
QUESTIONS = ("Hello! How are you today?", "What should I cook tonight?")
#: Long enough to measure a rate, short enough for a quick figure.
MAX_TOKENS = 64


@dataclass(frozen=True, slots=True)
class Turn:
    first_token: float
    tokens: int
    rate: float


async def _turn(ws: aiohttp.ClientWebSocketResponse, question: str) -> Turn:
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": question}],
    }
    await ws.send_str(json.dumps({"type": "conversation.item.create", "item": item}))
    started = time.perf_counter()
    await ws.send_str(json.dumps({"type": "response.create"}))
    stamps: list[float] = []
    while True:
        event = json.loads((await ws.receive(timeout=120)).data)
        if event["type"] == "response.text.delta":
            stamps.append(time.perf_counter())
        elif event["type"] == "response.done":
            if event["response"]["status"] != "completed":
                raise RuntimeError(f"the answer ended {event['response']['status']}: {event}")
            break
        elif event["type"] == "error":
            raise RuntimeError(f"the server answered an error: {event['error']}")
    if not stamps:
        raise RuntimeError("the answer had no text")
    span = stamps[-1] - stamps[0]
    rate = (len(stamps) - 1) / span if span > 0 and len(stamps) > 1 else 0.0
    return Turn(stamps[0] - started, len(stamps), rate)


async def _session_turns(url: str, questions: tuple[str, ...]) -> list[Turn]:
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"type": "session.update", "session": {"voice": CHARACTER}}))
        while json.loads((await ws.receive(timeout=60)).data)["type"] != "session.updated":
            pass
        return [await _turn(ws, question) for question in questions]


def _rss(server: ServerProcess) -> tuple[int, int]:
    """The server's RSS and its model process's (its one child running ``llm-serve``)."""
    children = psutil.Process(server.process.pid).children()
    model = sum(int(child.memory_info().rss) for child in children)
    return server.rss(), model


@dataclass(slots=True)
class _Runs:
    cold: list[float]
    cached: list[float]
    rates: list[float]
    server_mib: list[float]
    model_mib: list[float]


def _measure(extra: list[str], runs: int, log: Callable[[str], None], label: str) -> _Runs:
    measured = _Runs([], [], [], [], [])
    for run in range(runs):
        with unmute_server(PACKS_ROOT, PACK, compression=False, extra=extra) as server:
            # Each session has its own seed, so its prompt's end (topic, time) differs.
            first = asyncio.run(_session_turns(server.ws_url, QUESTIONS))
            second = asyncio.run(_session_turns(server.ws_url, QUESTIONS[:1]))
            server_rss, model_rss = _rss(server)
        measured.cold.append(first[0].first_token)
        measured.cached.append(second[0].first_token)
        measured.rates += [turn.rate for turn in (*first, *second) if turn.rate > 0]
        measured.server_mib.append(server_rss / 2**20)
        measured.model_mib.append(model_rss / 2**20)
        log(
            f"{label} run {run + 1}/{runs}: first token {first[0].first_token:.2f} s cold, "
            f"{second[0].first_token:.2f} s cached"
        )
    return measured


def llm_figures(workdir: Path, quick: bool, log: Callable[[str], None]) -> list[Figure]:
    del workdir  # nothing written
    runs = 1 if quick else 3
    embedded_flags = ["--llm", "embedded", f"--llm-max-tokens={MAX_TOKENS}"]
    log(f"embedded LLM ({CHARACTER}), {runs} fresh servers")
    embedded = _measure(embedded_flags, runs, log, "embedded")
    with VoicePeers() as peers:
        log("remote fake LLM, the same turns")
        remote = _measure(
            ["--llm-url", peers.urls["llm"], "--llm-model", "fake"], runs, log, "remote fake"
        )
    note = "remote fake: instant answers, the server's own share"
    figures = [
        Figure(
            "LLM first token, cold persona (embedded)",
            "s",
            embedded.cold,
            baseline_name="remote fake",
            baseline_runs=remote.cold,
            note=note,
        ),
        Figure(
            "LLM first token, cached persona (embedded)",
            "s",
            embedded.cached,
            baseline_name="remote fake",
            baseline_runs=remote.cached,
            note="a new session of the same character: the prompt's stable start is cached",
        ),
        Figure(
            "LLM tokens/s (embedded, 1 thread)",
            "tok/s",
            embedded.rates,
            baseline_name="remote fake",
            baseline_runs=remote.rates,
            note=f"answers of at most {MAX_TOKENS} tokens",
        ),
        Figure("RSS, server with embedded LLM", "MiB", embedded.server_mib),
        Figure("RSS, embedded LLM process", "MiB", embedded.model_mib),
        Figure("RSS, server with remote LLM", "MiB", remote.server_mib),
    ]
    if not quick:
        figures += _thread_figures(embedded_flags, log)
    return figures


def _thread_figures(flags: list[str], log: Callable[[str], None]) -> list[Figure]:
    """1 and 2 threads, alternated so that both see the same load on the machine."""
    rates: dict[int, list[float]] = {1: [], 2: []}
    for _round in range(2):
        for threads in (1, 2):
            measured = _measure([*flags, f"--llm-threads={threads}"], 1, log, f"{threads} threads")
            rates[threads] += measured.rates
    return [
        Figure(
            "LLM tokens/s, 2 threads (embedded)",
            "tok/s",
            rates[2],
            baseline_name="1 thread",
            baseline_runs=rates[1],
            note="the --llm-threads default is the faster one on a shared CPU",
        )
    ]
