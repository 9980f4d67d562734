"""``/v1/health`` and ``/v1/voices``: answered from memory, shaped as documented."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.server.conftest import MakeServer, Server, until, write_pack
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
        "voice_cloning_up": False,
        "voice": {"stt": "embedded", "tts": "embedded", "stt_reason": None},
        "sessions": 0,
        "default_pack": {"name": "default", "version": version, "characters": 2},
        "llm": {
            "kind": "off",
            "configured": False,
            "up": False,
            "model": None,
            "reason": "no LLM is configured on this server",
            "slots": None,
        },
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
    # A remote engine's probe failures are logged; it gives no reason to show.
    assert health["voice"] == {"stt": "kyutai", "tts": "embedded", "stt_reason": None}
    assert url not in json.dumps(health)


async def test_health_is_not_changed_by_a_sessions_reload(server: Server) -> None:
    client = await server.connect()
    await client.reload("second")
    health = await server.get_json("/v1/health")
    assert health["default_pack"]["name"] == "default"
    assert health["default_pack"]["characters"] == 2


FRONTEND_PACK = {
    "nova__toml": """
name = "Nova"
good = true
comment = "a calm voice"
voice = { source_type = "file", path_on_server = "voices/nova.wav", description = "Nova" }
instructions = { type = "smalltalk", language = "en/fr" }
""",
    "sam__toml": """
name = "Sam"
good = true
instructions = { type = "constant", text = "You are Sam.", language = "en" }

[voice]
source_type = "freesound"
url = "https://freesound.org/s/1/"
path_on_server = "voices/sam.wav"
sound_instance = { id = 1, username = "sammy" }
""",
    "kit__toml": """
name = "Kit"
good = true
instructions = { type = "quiz_show" }

[voice]
source_type = "freesound"
url = "https://freesound.org/s/2/"
path_on_server = "voices/kit.wav"
""",
    "draft__toml": """
name = "Draft"
voice = { source_type = "file", path_on_server = "voices/draft.wav" }
instructions = { type = "constant", text = "Not ready." }
""",
}


async def test_voices_lists_good_characters_in_the_shape_unmutes_frontend_reads(
    make_server: MakeServer, packs_root: Path
) -> None:
    write_pack(packs_root, "frontend", [], **FRONTEND_PACK)
    server = await make_server(default_pack="frontend")
    voices = {voice["name"]: voice for voice in await server.get_json("/v1/voices")}
    assert list(voices) == ["Kit", "Nova", "Sam"]
    assert voices["Nova"] == {
        "name": "Nova",
        "good": True,
        "comment": "a calm voice",
        "instructions": {"type": "smalltalk", "language": "en/fr", "persona": None},
        "source": {
            "source_type": "file",
            "path_on_server": "voices/nova.wav",
            "description": "Nova",
            "description_link": None,
        },
        "instructions_type": "smalltalk",
    }
    assert voices["Sam"]["instructions"] == {
        "type": "constant",
        "text": "You are Sam.",
        "language": "en",
    }
    assert voices["Sam"]["source"] == {
        "source_type": "freesound",
        "url": "https://freesound.org/s/1/",
        "path_on_server": "voices/sam.wav",
        "description": None,
        "sound_instance": {"id": 1, "username": "sammy"},
    }
    # The frontend reads source.sound_instance.username of every Freesound voice.
    assert voices["Kit"]["source"]["sound_instance"] == {"username": None}
    assert voices["Kit"]["instructions"] == {"type": "quiz_show", "language": None, "persona": None}


async def test_voices_lists_every_character_when_asked_for_all(
    make_server: MakeServer, packs_root: Path
) -> None:
    write_pack(packs_root, "frontend", [], **FRONTEND_PACK)
    server = await make_server(default_pack="frontend")
    everyone = await server.get_json("/v1/voices?all=true")
    assert [(voice["name"], voice["good"]) for voice in everyone] == [
        ("Draft", False),
        ("Kit", True),
        ("Nova", True),
        ("Sam", True),
    ]
    assert await server.get_json("/v1/voices?all=false") == await server.get_json("/v1/voices")


async def test_voices_of_a_pack_with_no_good_character_is_empty(make_server: MakeServer) -> None:
    server = await make_server(default_pack="broken")
    assert await server.get_json("/v1/voices") == []
    [fay] = await server.get_json("/v1/voices?all=1")
    assert fay["source"]["path_on_server"] == "voices/fay.wav"


async def test_voices_of_the_bundled_default_pack_name_every_instruction_type(
    make_server: MakeServer,
) -> None:
    server = await make_server(packs_root=BUNDLED_PACKS)
    voices = await server.get_json("/v1/voices?all=true")
    assert len(voices) == len(server.app[PACKS].default)
    assert {voice["instructions"]["type"] for voice in voices} >= {"constant", "template"}
    for voice in voices:
        assert set(voice) == {
            "name",
            "good",
            "comment",
            "instructions",
            "source",
            "instructions_type",
        }
        assert voice["instructions_type"] == voice["instructions"]["type"]
        assert voice["source"]["source_type"] in ("file", "freesound")
        assert voice["source"]["path_on_server"]
    good = await server.get_json("/v1/voices")
    assert good == [voice for voice in voices if voice["good"]]


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
    assert (await response.json())["llm"] == {
        "kind": "remote",
        "configured": True,
        "up": True,
        "model": "tiny",
        "reason": None,
        "slots": None,
    }


async def test_health_shows_how_the_llm_slots_are_used(make_server: MakeServer) -> None:
    server = await make_server(llm=LLMSettings(url="http://127.0.0.1:9/v1", model="m", slots=3))
    llm = (await server.get_json("/v1/health"))["llm"]
    assert llm["slots"] == {"slots": 3, "busy": 0, "waiting": 0}
