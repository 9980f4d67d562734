"""The listener against engines that behave as a slow or broken remote engine would.

The engines here are stand-ins for *remote* speech-to-text servers (the listener's contract is
the :class:`~unmute_server.voice.stt.engine.SpeechToText` protocol, which every real adapter
implements): one that takes twice as long as the audio lasts, to prove a slow engine is
reported, never queued without bound.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from unmute_server.voice.audio import SAMPLE_RATE, Pcm, silence
from unmute_server.voice.codec import AudioFormat, Pcm16Encoder
from unmute_server.voice.listener import (
    AudioBufferFullError,
    Listener,
    ListenerConfig,
    ListenerHooks,
)
from unmute_server.voice.records import ListenerRecord, TranscriptCompleted, VoiceProblem
from unmute_server.voice.stt.engine import PartialCallback


class SlowTranscription:
    """Takes twice as long as the audio it is fed lasts."""

    async def feed(self, pcm: Pcm) -> None:
        await asyncio.sleep(2 * len(pcm) / SAMPLE_RATE)

    async def finish(self) -> str:
        return "slow words"

    async def aclose(self) -> None:
        return None


class SlowEngine:
    name = "slow"

    async def start(self, language: str, on_partial: PartialCallback) -> SlowTranscription:
        del language, on_partial
        return SlowTranscription()

    async def probe(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def listener_for(records: list[ListenerRecord], **config: object) -> Listener:
    async def nothing() -> None:
        return None

    async def on_turn(item_id: str, transcript: str) -> None:
        del item_id, transcript

    settings: dict[str, object] = {
        "language": "en",
        "turn_detection": None,
        "input_format": AudioFormat.PCM16,
        **config,
    }
    return Listener(
        SlowEngine(),
        ListenerConfig(**settings),  # type: ignore[arg-type]
        ListenerHooks(
            emit=records.append,
            on_turn=on_turn,
            on_speech=nothing,
            previous_item=lambda: None,
            new_item_id=lambda: "item_1",
        ),
    )


def tone(seconds: float) -> Pcm:
    t = np.arange(round(seconds * SAMPLE_RATE), dtype=np.float32) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


async def test_an_engine_slower_than_real_time_is_reported_once_per_turn() -> None:
    records: list[ListenerRecord] = []
    listener = listener_for(records)
    for _ in range(15):  # 3 s in 200 ms appends
        listener.append(Pcm16Encoder().encode(tone(0.2)))
    assert await listener.commit()
    await listener.wait_idle()
    warnings = [r for r in records if isinstance(r, VoiceProblem)]
    assert [(w.code, w.warning) for w in warnings] == [("engine_slower_than_real_time", True)]
    assert "real time" in warnings[0].message
    assert [r.transcript for r in records if isinstance(r, TranscriptCompleted)] == ["slow words"]
    await listener.aclose()


async def test_appends_past_the_bound_are_refused_and_what_was_taken_is_kept() -> None:
    records: list[ListenerRecord] = []
    listener = listener_for(records, max_buffered_bytes=SAMPLE_RATE * 2)  # one second
    first = Pcm16Encoder().encode(silence(0.8))
    listener.append(first)
    with pytest.raises(AudioBufferFullError, match="was refused"):
        listener.append(Pcm16Encoder().encode(silence(0.5)))
    await listener.wait_idle()
    # Once the queue has drained, audio is taken again.
    listener.append(Pcm16Encoder().encode(silence(0.5)))
    await listener.aclose()
