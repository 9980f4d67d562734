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

from tests.server.conftest import until
from tests.voice import speech_fixtures
from unmute_server.voice.audio import SAMPLE_RATE, Pcm, silence
from unmute_server.voice.codec import AudioFormat, Pcm16Encoder
from unmute_server.voice.listener import (
    AudioBufferFullError,
    Listener,
    ListenerConfig,
    ListenerHooks,
)
from unmute_server.voice.records import (
    ListenerRecord,
    TranscriptCompleted,
    TurnCommitted,
    TurnStarted,
    TurnStopped,
    VoiceProblem,
)
from unmute_server.voice.stt.engine import PartialCallback
from unmute_server.voice.turns import TurnDetection


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

    down_reason = None

    async def warm(self) -> None:
        return None

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


class StalledTranscription:
    """Takes no audio until its engine's gate opens: a remote engine that fell behind."""

    def __init__(self, gate: asyncio.Event, fed: list[Pcm]) -> None:
        self._gate = gate
        self._fed = fed

    async def feed(self, pcm: Pcm) -> None:
        await self._gate.wait()
        self._fed.append(pcm)

    async def finish(self) -> str:
        await self._gate.wait()
        return f"{sum(len(pcm) for pcm in self._fed)} samples"

    async def aclose(self) -> None:
        return None


class StalledEngine:
    name = "stalled"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.fed: list[Pcm] = []

    async def start(self, language: str, on_partial: PartialCallback) -> StalledTranscription:
        del language, on_partial
        return StalledTranscription(self.gate, self.fed)

    down_reason = None

    async def warm(self) -> None:
        return None

    async def probe(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def vad_listener(
    engine: StalledEngine, records: list[ListenerRecord], **config: object
) -> Listener:
    async def nothing() -> None:
        return None

    async def on_turn(item_id: str, transcript: str) -> None:
        del item_id, transcript

    settings: dict[str, object] = {
        "language": "en",
        "turn_detection": TurnDetection(),
        "input_format": AudioFormat.PCM16,
        **config,
    }
    return Listener(
        engine,
        ListenerConfig(**settings),  # type: ignore[arg-type]
        ListenerHooks(
            emit=records.append,
            on_turn=on_turn,
            on_speech=nothing,
            previous_item=lambda: None,
            new_item_id=lambda: "item_1",
        ),
    )


def speech_then_silence(chunk_bytes: int = 3_840) -> list[bytes]:
    """The speech fixture and a second of silence, as 80 ms PCM16 appends."""
    audio = speech_fixtures.pcm16_bytes("hello_coffee") + Pcm16Encoder().encode(silence(1.0))
    return [audio[start : start + chunk_bytes] for start in range(0, len(audio), chunk_bytes)]


async def test_a_turn_ends_on_the_pause_while_the_engine_is_still_behind() -> None:
    engine = StalledEngine()
    records: list[ListenerRecord] = []
    listener = vad_listener(engine, records)
    for chunk in speech_then_silence():
        listener.append(chunk)
    # The engine has taken nothing yet, and the turn's end is already known.
    await until(
        lambda: any(isinstance(record, TurnCommitted) for record in records),
        "the turn committed while the engine took nothing",
        polls=6000,
    )
    assert engine.fed == []
    kinds = [type(record) for record in records]
    assert kinds.index(TurnStarted) < kinds.index(TurnStopped) < kinds.index(TurnCommitted)
    assert TranscriptCompleted not in kinds
    engine.gate.set()
    async with asyncio.timeout(30):
        await listener.wait_idle()
    # Every sample of the turn reached the engine, in order, before its final transcript.
    started = next(r for r in records if isinstance(r, TurnStarted))
    stopped = next(r for r in records if isinstance(r, TurnStopped))
    completed = [r for r in records if isinstance(r, TranscriptCompleted)]
    fed = sum(len(pcm) for pcm in engine.fed)
    assert completed == [TranscriptCompleted("item_1", f"{fed} samples")]
    padded_start = max(0, started.audio_start_ms - TurnDetection().prefix_padding_ms)
    assert fed >= (stopped.audio_end_ms - padded_start) * SAMPLE_RATE // 1000
    await listener.aclose()


async def test_an_engine_that_stays_behind_pushes_back_to_the_append_bound() -> None:
    engine = StalledEngine()
    records: list[ListenerRecord] = []
    listener = vad_listener(engine, records, max_buffered_bytes=2 * SAMPLE_RATE * 2)
    speech = speech_fixtures.pcm16_bytes("hello_coffee")
    refused = False
    async with asyncio.timeout(60):
        for _ in range(20):  # up to 100 s of speech, never a pause
            for start in range(0, len(speech), 3_840):
                try:
                    listener.append(speech[start : start + 3_840])
                except AudioBufferFullError:
                    refused = True
                    break
                await asyncio.sleep(0)
            if refused:
                break
            await asyncio.sleep(0.05)
    assert refused  # the audio waiting for the engine is bounded, not the whole recording
    assert engine.fed == []
    engine.gate.set()
    await listener.aclose()


async def test_clear_drops_the_audio_the_engine_has_not_taken() -> None:
    engine = StalledEngine()
    records: list[ListenerRecord] = []
    listener = vad_listener(engine, records)
    for chunk in speech_then_silence()[:40]:  # speech, no pause yet
        listener.append(chunk)
    await until(lambda: any(isinstance(r, TurnStarted) for r in records), "the turn started")
    await listener.clear()
    engine.gate.set()
    await asyncio.sleep(0.05)
    assert engine.fed == [] or len(engine.fed) == 1  # at most the feed already in flight
    await listener.aclose()
