"""``/v1/health`` and ``/v1/voices``: answered from memory, shaped as documented."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.server.conftest import MakeServer, Server, until
from unmute_server.llm import LLMSettings
from unmute_server.server.state import PACKS, SESSIONS
from unmute_server.voice.settings import EngineKind, EngineSettings, VoiceSettings

BUNDLED_PACKS = Path(__file__).resolve().parents[2] / "character_packs"


async def test_health_reports_sessions_and_the_default_pack(server: Server) -> None:
    version = server.app[PACKS].default.version
    assert await server.get_json("/v1/health") == {
        # No LLM is configured: no conversation can happen, so not ok, and it says why.
        "ok": False,
        "stt_up": True,
        "tts_up": True,
        "llm_up": False,
        "voice": {"stt": "embedded", "tts": "embedded"},
        "sessions": 0,
        "default_pack": {"name": "default", "version": version, "characters": 2},
        "llm": {"configured": False, "model": None},
    }
    first = await server.connect()
    await server.connect()
    assert (await server.get_json("/v1/health"))["sessions"] == 2
    await first.ws.close()
    await until(lambda: len(server.app[SESSIONS]) == 1, "one session to end")
    assert (await server.get_json("/v1/health"))["sessions"] == 1


async def test_health_is_ok_when_the_engines_answer_and_an_llm_is_configured(
    make_server: MakeServer,
) -> None:
    server = await make_server(llm=LLMSettings(url="http://127.0.0.1:9/v1", model="m"))
    health = await server.get_json("/v1/health")
    assert (health["ok"], health["stt_up"], health["tts_up"], health["llm_up"]) == (
        True,
        True,
        True,
        True,
    )


async def test_health_says_an_engine_that_does_not_answer_is_down(make_server: MakeServer) -> None:
    # A Kyutai speech-to-text server that is not there: refused at once, so down.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{probe.getsockname()[1]}"
    voice = VoiceSettings(stt=EngineSettings(EngineKind.KYUTAI, url=url))
    server = await make_server(llm=LLMSettings(url="http://127.0.0.1:9/v1", model="m"), voice=voice)
    health = await server.get_json("/v1/health")
    assert (health["ok"], health["stt_up"], health["tts_up"]) == (False, False, True)
    assert health["voice"] == {"stt": "kyutai", "tts": "embedded"}
    assert url not in json.dumps(health)


async def test_health_is_not_changed_by_a_sessions_reload(server: Server) -> None:
    client = await server.connect()
    await client.reload("second")
    health = await server.get_json("/v1/health")
    assert health["default_pack"]["name"] == "default"
    assert health["default_pack"]["characters"] == 2


async def test_voices_lists_the_default_packs_characters(make_server: MakeServer) -> None:
    server = await make_server(default_pack="broken")
    assert await server.get_json("/v1/voices") == [
        {
            "name": "Fay",
            "good": False,
            "comment": None,
            "voice": {
                "source_type": "file",
                "path_on_server": "voices/fay.wav",
                "description": None,
                "description_link": None,
            },
            "instructions_type": "constant",
        }
    ]


async def test_voices_of_the_bundled_default_pack_name_every_instruction_type(
    make_server: MakeServer,
) -> None:
    server = await make_server(packs_root=BUNDLED_PACKS)
    voices = await server.get_json("/v1/voices")
    assert len(voices) == len(server.app[PACKS].default)
    assert {voice["instructions_type"] for voice in voices} >= {"constant", "template"}
    for voice in voices:
        assert set(voice) == {"name", "good", "comment", "voice", "instructions_type"}
        assert voice["voice"]["source_type"] in ("file", "freesound")


async def test_health_names_the_llm_model_but_never_its_url_or_key(
    make_server: MakeServer,
) -> None:
    secret = "sk-hidden-1234"  # noqa: S105 (a fake, to prove it is never shown)
    llm = LLMSettings(url=f"http://user:{secret}@127.0.0.1:9/v1", model="tiny", api_key=secret)
    server = await make_server(llm=llm)
    response = await server.client.get("/v1/health")
    text = await response.text()
    assert secret not in text
    assert "127.0.0.1:9" not in text
    assert (await response.json())["llm"] == {"configured": True, "model": "tiny"}
