"""``/v1/health`` on a fresh server: the embedded speech-to-text is warmed at start-up, so the
probe checks a live pool instead of loading a model within the probe's two seconds."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from aiohttp import web

from tests.server.conftest import MakeServer
from unmute_server.server.state import VOICE
from unmute_server.voice.stt.embedded import EmbeddedSpeechToText


def embedded_stt(server_app: web.Application) -> EmbeddedSpeechToText:
    stt = server_app[VOICE].stt
    assert isinstance(stt, EmbeddedSpeechToText)
    return stt


async def test_a_fresh_servers_first_health_has_the_stt_up_from_the_pool_warmed_at_start_up(
    make_server: MakeServer,
) -> None:
    server = await make_server()
    stt = embedded_stt(server.app)
    warmed = stt.worker_pids
    assert len(warmed) == 1, "one worker is loaded before the server accepts a request"
    health = await server.get_json("/v1/health")
    assert health["stt_up"] is True
    assert health["voice"]["stt_reason"] is None
    assert stt.worker_pids == warmed, "the probe checks the pool; it loads no model of its own"


async def test_probes_of_a_pool_whose_worker_died_share_one_new_load(
    make_server: MakeServer,
) -> None:
    server = await make_server()
    stt = embedded_stt(server.app)
    (dead,) = stt.worker_pids
    os.kill(dead, signal.SIGKILL)
    answers = await asyncio.gather(*(server.get_json("/v1/health") for _ in range(3)))
    assert [answer["stt_up"] for answer in answers] == [True, True, True]
    assert len(stt.worker_pids) == 1
    assert dead not in stt.worker_pids


async def test_health_says_why_an_stt_whose_worker_cannot_start_is_down(
    make_server: MakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real worker process that cannot load its model: its pocketsphinx import fails.
    broken = tmp_path / "shadow" / "pocketsphinx"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("this pocketsphinx is broken")\n')
    monkeypatch.setenv("PYTHONPATH", str(broken.parent))
    server = await make_server()  # start-up goes on: the server still serves text
    health = await server.get_json("/v1/health")
    assert (health["ok"], health["stt_up"], health["tts_up"]) == (False, False, True)
    reason = health["voice"]["stt_reason"]
    assert "cannot load its model" in reason
    assert "this pocketsphinx is broken" in reason
