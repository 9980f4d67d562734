"""The voice benchmarks' client: many sessions talking to the server at real-time pace.

``python -m tests.perf.voice_client --url WS --sessions N --seconds S --stream FILE`` opens N
sessions, then each sends the stream's audio as ``input_audio_buffer.append`` events, every
chunk at the moment its last sample would leave a microphone (the stream file gives the times),
for S seconds. It prints ``phase measure`` when every session is connected and the audio starts,
``phase end`` when the audio stops, and then one JSON report.

What it measures, at the client:

- **Audio lateness.** A listener plays an answer from its first audio frame on, in real time;
  a later frame is late by how much it arrived after its place in that schedule. For every
  ``response.audio.delta``: (arrival - the answer's first arrival) - (audio before the end of
  this delta - audio before the end of the first), from the Ogg pages' granule positions or
  the PCM16 length. The answer's first audio is on time by definition: its latency is the
  end-to-end figure's business.
- **Its own pacing:** how late each append went out against its schedule, so an overloaded
  client shows as such instead of passing its delays off as the server's.

Run in a process of its own so that its CPU is not counted as the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from unmute_server.loadtest.rlimit import raise_open_file_limit

#: Ogg Opus granule positions count 48 kHz samples whatever the stream's rate.
GRANULE_RATE = 48_000
PCM16_BYTES_PER_SECOND = 24_000 * 2
CONNECT_TIMEOUT = 60.0


def ogg_end_granule(data: bytes) -> int | None:
    """The granule position of the last Ogg page in ``data`` (whole pages), if any."""
    position = 0
    granule = None
    while position + 27 <= len(data) and data[position : position + 4] == b"OggS":
        segments = data[position + 26]
        table = data[position + 27 : position + 27 + segments]
        page_granule = int.from_bytes(data[position + 6 : position + 14], "little", signed=True)
        if page_granule >= 0:
            granule = page_granule
        position += 27 + segments + sum(table)
    return granule


@dataclass(frozen=True, slots=True)
class Stream:
    """What each session sends: prepared append events and when each goes out."""

    format: str
    #: (seconds after the session's start, the event's JSON text)
    appends: list[tuple[float, str]]

    @classmethod
    def load(cls, path: Path) -> Stream:
        document = json.loads(path.read_text(encoding="utf-8"))
        appends = [
            (
                float(at),
                json.dumps({"type": "input_audio_buffer.append", "audio": audio}),
            )
            for at, audio in document["chunks"]
        ]
        return cls(document["format"], appends)


@dataclass
class Tally:
    """Everything the sessions saw, added up."""

    late_ms: list[float] = field(default_factory=list)
    send_late_ms: list[float] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    audio_out_seconds: float = 0.0
    audio_in_seconds: float = 0.0
    connect_failed: int = 0


class Answer:
    """One answer's audio schedule, as a player starting at its first frame sees it."""

    __slots__ = ("end", "first_arrival", "first_end", "samples")

    def __init__(self) -> None:
        self.first_arrival: float | None = None
        self.first_end = 0.0
        #: Seconds of audio received so far (each answer is a stream of its own).
        self.end = 0.0
        self.samples = 0


@dataclass(frozen=True, slots=True)
class Plan:
    """What every session does, and the shared start."""

    url: str
    voice: str | None
    stream: Stream
    seconds: float
    tally: Tally
    connected: asyncio.Barrier
    start: asyncio.Future[float]


async def session(http: aiohttp.ClientSession, plan: Plan, offset: float) -> None:
    """One session: connect, wait for all the others, talk for the run's seconds."""
    url, voice, stream, tally = plan.url, plan.voice, plan.stream, plan.tally
    connected, start, seconds = plan.connected, plan.start, plan.seconds
    try:
        ws = await http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=10))
    except (aiohttp.ClientError, OSError):
        tally.connect_failed += 1
        await connected.wait()
        return
    async with ws:
        if voice is not None:
            await ws.send_str(json.dumps({"type": "session.update", "session": {"voice": voice}}))
            await ws.receive(timeout=CONNECT_TIMEOUT)
        await connected.wait()
        started = await start + offset
        receiver = asyncio.create_task(receive(ws, stream.format, tally))
        try:
            await send(ws, stream, started, started + seconds, tally)
        except (aiohttp.ClientError, ConnectionError):
            tally.errors["connection_lost"] += 1  # the server closed it (a failure)
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)


async def send(
    ws: aiohttp.ClientWebSocketResponse, stream: Stream, started: float, until: float, tally: Tally
) -> None:
    loop = asyncio.get_running_loop()
    previous = 0.0
    for at, text in stream.appends:
        due = started + at
        if due > until:
            break
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        tally.send_late_ms.append(max(0.0, loop.time() - due) * 1000)
        await ws.send_str(text)
        tally.audio_in_seconds += at - previous
        previous = at
    wait = until - loop.time()
    if wait > 0:
        await asyncio.sleep(wait)


async def receive(ws: aiohttp.ClientWebSocketResponse, audio_format: str, tally: Tally) -> None:
    loop = asyncio.get_running_loop()
    answers: dict[str, Answer] = {}
    async for message in ws:
        if message.type is not aiohttp.WSMsgType.TEXT:
            break
        arrived = loop.time()
        event: dict[str, Any] = json.loads(message.data)
        kind = event["type"]
        tally.events[kind] += 1
        if kind == "response.audio.delta":
            answer = answers.setdefault(event["response_id"], Answer())
            data = base64.b64decode(event["delta"])
            if audio_format == "ogg_opus":
                granule = ogg_end_granule(data)
                if granule is None:
                    continue
                end = granule / GRANULE_RATE
            else:
                answer.samples += len(data) // 2
                end = answer.samples / (PCM16_BYTES_PER_SECOND // 2)
            answer.end = end
            if answer.first_arrival is None:
                answer.first_arrival, answer.first_end = arrived, end
            else:
                late = (arrived - answer.first_arrival) - (end - answer.first_end)
                tally.late_ms.append(max(0.0, late) * 1000)
        elif kind == "response.done":
            response = event["response"]
            tally.statuses[response["status"]] += 1
            finished = answers.pop(response["id"], None)
            if finished is not None:
                tally.audio_out_seconds += finished.end
        elif kind == "error":
            tally.errors[event["error"].get("code") or "unknown"] += 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": statistics.median(values) if values else 0.0,
        "p99": percentile(values, 0.99),
        "max": max(values, default=0.0),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    stream = Stream.load(args.stream)
    tally = Tally()
    loop = asyncio.get_running_loop()
    connected = asyncio.Barrier(args.sessions + 1)
    start: asyncio.Future[float] = loop.create_future()
    plan = Plan(args.url, args.voice, stream, args.seconds, tally, connected, start)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = []
        for number in range(args.sessions):
            # Spread evenly over the stagger, so the sessions' appends do not come in bursts.
            offset = args.stagger * number / args.sessions
            tasks.append(asyncio.create_task(session(http, plan, offset)))
            if number % 50 == 49:
                await asyncio.sleep(0)
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await connected.wait()
        gc.freeze()  # the sessions' objects: keep full collections out of the measurement
        print("phase measure", flush=True)
        start.set_result(loop.time())
        began = time.perf_counter()
        await asyncio.gather(*tasks)
        print("phase end", flush=True)
        elapsed = time.perf_counter() - began
    return {
        "sessions": args.sessions,
        "connect_failed": tally.connect_failed,
        "seconds": elapsed,
        "late_ms": summary(tally.late_ms),
        "send_late_ms": summary(tally.send_late_ms),
        "audio_in_seconds": tally.audio_in_seconds,
        "audio_out_seconds": tally.audio_out_seconds,
        "events": dict(tally.events),
        "errors": dict(tally.errors),
        "statuses": dict(tally.statuses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--stream", type=Path, required=True)
    parser.add_argument("--voice", default=None, help="the character every session talks to")
    parser.add_argument(
        "--stagger", type=float, default=1.0, help="start sessions up to this many s apart"
    )
    args = parser.parse_args()
    raise_open_file_limit()
    report = asyncio.run(run(args))
    print(json.dumps(report), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
