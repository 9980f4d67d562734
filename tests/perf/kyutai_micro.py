"""``python -m tests.perf.kyutai_micro``: CPU per message of the Kyutai adapters, in this process.

The fake Kyutai servers (``tests/fake_kyutai.py``, unpaced) run in a child process, so
``time.process_time`` here counts the adapters' own work: the client side of each message,
socket writes and reads included, and none of the fakes'. CPU time rather than wall clock,
and the median of several rounds, because the machine may be shared. STT: sending is measured
around ``feed`` (which does not yield while the socket takes the data), receiving as the rest of
an utterance's CPU, per frame (its ``Step``, a ``Word`` and ``EndWord`` every other frame, the
flush). TTS: the CPU of reading a long answer's audio, per ``Audio`` message.

To compare with another checkout, run this file with that checkout first on ``PYTHONPATH``
(``cd OTHER && PYTHONPATH=$PWD python /path/to/kyutai_micro.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from aiohttp import web

from tests.fake_kyutai import API_KEY, FakeKyutaiStt, FakeKyutaiTts
from unmute_server.voice.stt.kyutai import KyutaiSpeechToText
from unmute_server.voice.tts.engine import VoiceChoice
from unmute_server.voice.tts.kyutai import KyutaiTextToSpeech

FRAME = 1920
FRAMES_PER_UTTERANCE = 500
UTTERANCES = 4
ANSWER_WORDS = 400
ANSWERS = 3
US = 1e6
#: Rounds of each measurement; the median is reported (the machine may be shared).
ROUNDS = 5


async def _serve() -> None:
    urls = []
    runners = []
    for app in (FakeKyutaiStt(transcript=("word",) * 10_000).app(), FakeKyutaiTts().app()):
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        urls.append(f"ws://{host}:{port}")
        runners.append(runner)
    print(json.dumps(urls), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for runner in runners:
        await runner.cleanup()


async def _stt(url: str) -> tuple[float, float]:
    stt = KyutaiSpeechToText(url, api_key=API_KEY, connect_timeout=10, idle_timeout=10)
    t = np.arange(FRAME) / 24000
    frame = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    send = total = 0.0
    try:
        for _ in range(UTTERANCES):
            transcription = await stt.start("en", lambda _text: None)
            started = time.process_time()
            for _ in range(FRAMES_PER_UTTERANCE // 10):
                before = time.process_time()
                for _ in range(10):
                    await transcription.feed(frame)
                send += time.process_time() - before
                await asyncio.sleep(0.01)  # the fake answers; the reader takes the Steps
            await transcription.finish()
            total += time.process_time() - started
    finally:
        await stt.aclose()
    frames = UTTERANCES * FRAMES_PER_UTTERANCE
    return send / frames * US, (total - send) / frames * US


async def _tts(url: str) -> tuple[float, int]:
    tts = KyutaiTextToSpeech(url, api_key=API_KEY, connect_timeout=10, idle_timeout=10)
    voice = VoiceChoice(kyutai="voice.wav", embedded="en", openai="alloy")
    messages = 0
    cpu = 0.0
    try:
        for _ in range(ANSWERS):
            synthesis = await tts.start(voice, "en")
            await synthesis.send_text(" ".join(["abcdef"] * ANSWER_WORDS))
            await synthesis.end()
            started = time.process_time()
            samples = 0
            async for piece in synthesis.audio():
                samples += len(piece.pcm)
            cpu += time.process_time() - started
            messages += samples // FRAME
    finally:
        await tts.aclose()
    return cpu / messages * US, messages


async def _measure(urls: list[str]) -> None:
    await _stt(urls[0])  # warm-up: imports, first connections
    sends, receives, audios = [], [], []
    for _ in range(ROUNDS):
        send, receive = await _stt(urls[0])
        audio, messages = await _tts(urls[1])
        sends.append(send)
        receives.append(receive)
        audios.append(audio)
    print(
        f"median of {ROUNDS} rounds: STT {statistics.median(sends):.1f} µs CPU per frame sent, "
        f"{statistics.median(receives):.1f} µs per frame's answers received "
        f"({UTTERANCES * FRAMES_PER_UTTERANCE} frames a round); "
        f"TTS {statistics.median(audios):.1f} µs per Audio message received "
        f"({messages} a round)"
    )


def main() -> None:
    if sys.argv[1:] == ["--serve"]:
        asyncio.run(_serve())
        return
    # Run as a file, so the same script measures another checkout (its PYTHONPATH) as well.
    peers = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert peers.stdout is not None
    assert peers.stdin is not None
    try:
        urls = json.loads(peers.stdout.readline())
        asyncio.run(_measure(urls))
    finally:
        peers.stdin.close()
        peers.wait(timeout=30)


if __name__ == "__main__":
    main()
