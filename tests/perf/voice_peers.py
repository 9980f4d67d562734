"""The voice benchmarks' remote peers in a process of their own: a fake LLM that answers at
once, and fake Kyutai STT and TTS servers, on loopback.

``python -m tests.perf.voice_peers --answer TEXT`` prints one line ``peers {json}`` with the
three base URLs once all are listening, serves until its standard input closes, then prints
``report {json}``: how late the TTS fake sent its own audio frames (its pacing, so a figure
measured at the client can tell the fake's delays from the server's).

They are the test fakes (``tests/fake_llm.py``, ``tests/fake_kyutai.py``), served here by a
plain ``web.AppRunner`` rather than pytest's. Their CPU is kept out of the server's process, so
the server's CPU figures are its own. The one change for the benchmark: the TTS fake speaks at
real-time pace against an absolute clock, as a GPU server streaming an answer does; the tests'
``frame_delay`` sleeps between frames and would drift later and later under load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from typing import Any

import numpy as np
from aiohttp import web

from tests.fake_kyutai import FRAME, FakeKyutaiStt, FakeKyutaiTts, TtsConnection, pack
from tests.fake_llm import FakeLLM, StreamReply
from unmute_server.voice.audio import SAMPLE_RATE

#: The key both Kyutai fakes accept (the server is given it as UNMUTE_*_API_KEY).
API_KEY = "bench_token"
#: Distinct packed frames the TTS fake keeps (an answer is about 30; 8 KiB each).
MAX_PACKED_FRAMES = 1024


class RealTimeKyutaiTts(FakeKyutaiTts):
    """The TTS fake, sending each answer's frames at real-time pace from its first frame."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._first_frame_at: dict[int, float] = {}
        self._packed: dict[bytes, bytes] = {}
        #: Seconds each frame went out after its due time (0 when on time).
        self.send_lateness: list[float] = []

    def _packed_frame(self, frame: np.ndarray[Any, np.dtype[np.float32]]) -> bytes:
        """``frame`` as an ``Audio`` message, packed once per distinct frame: every session
        hears the same answer, so the fake's CPU (which shares the machine with the server)
        goes to pacing, not to packing the same 1,920 floats again for every session."""
        key = frame.tobytes()
        packed = self._packed.get(key)
        if packed is None:
            packed = pack({"type": "Audio", "pcm": frame.tolist()})
            if len(self._packed) < MAX_PACKED_FRAMES:
                self._packed[key] = packed
        return packed

    async def _send_frames(
        self,
        ws: web.WebSocketResponse,
        connection: TtsConnection,
        audio: np.ndarray[Any, np.dtype[np.float32]],
        *,
        whole_frames_only: bool,
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        loop = asyncio.get_running_loop()
        while len(audio) >= FRAME or (audio.size and not whole_frames_only):
            frame, audio = audio[:FRAME], audio[FRAME:]
            first = self._first_frame_at.setdefault(id(connection), loop.time())
            due = first + connection.samples_sent / SAMPLE_RATE
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.send_lateness.append(max(0.0, loop.time() - due))
            await ws.send_bytes(self._packed_frame(frame))
            connection.samples_sent += len(frame)
        if connection.eos and not audio.size:
            self._first_frame_at.pop(id(connection), None)
        return audio


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"{host}:{port}"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def serve(answer: list[str]) -> None:
    llm = FakeLLM(default=StreamReply(chunks=tuple(answer)))
    stt = FakeKyutaiStt(api_key=API_KEY)
    tts = RealTimeKyutaiTts(api_key=API_KEY)
    runners = []
    addresses = []
    for app in (llm.app(), stt.app(), tts.app()):
        runner, address = await _serve(app)
        runners.append(runner)
        addresses.append(address)
    urls = {
        "llm": f"http://{addresses[0]}/v1",
        "stt": f"ws://{addresses[1]}",
        "tts": f"ws://{addresses[2]}",
    }
    print("peers " + json.dumps(urls), flush=True)
    loop = asyncio.get_running_loop()
    # Until the bench closes our stdin (or dies: the pipe closes with it).
    await loop.run_in_executor(None, sys.stdin.read)
    for runner in runners:
        await runner.cleanup()
    late = [seconds * 1000 for seconds in tts.send_lateness]
    report = {
        "llm_requests": len(llm.requests),
        "stt_connections": len(stt.connections),
        "tts_connections": len(tts.connections),
        "tts_frames": len(late),
        "tts_send_late_ms": {
            "p50": statistics.median(late) if late else 0.0,
            "p99": _percentile(late, 0.99),
            "max": max(late, default=0.0),
        },
    }
    print("report " + json.dumps(report), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--answer", required=True, help="the LLM's answer, streamed word by word")
    args = parser.parse_args()
    words = args.answer.split(" ")
    chunks = [word + " " for word in words[:-1]] + [words[-1]]
    asyncio.run(serve(chunks))


if __name__ == "__main__":
    main()
