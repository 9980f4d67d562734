"""The plain HTTP routes: ``/v1/health`` and ``/v1/voices`` (``/metrics`` is prometheus-async's).

Both answer from memory (the default pack's registry loaded at start-up and the open session
count), so a load balancer's health check never touches the disk.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any

from aiohttp import web

from unmute_server.characters.model import Character, FileVoice, FreesoundVoice
from unmute_server.server.state import LLM, LLM_BACKEND, PACKS, SESSIONS, VOICE
from unmute_server.voice.stt.engine import SpeechToText
from unmute_server.voice.tts.engine import TextToSpeech

logger = logging.getLogger(__name__)


#: How long ``/v1/health`` waits for an engine's probe before calling it down.
PROBE_SECONDS = 2.0


async def health(request: web.Request) -> web.Response:
    """Whether a conversation can happen now, and what the server holds.

    ``ok`` is true when the speech engines answer their probes (within
    :data:`PROBE_SECONDS`) and an LLM is available; ``stt_up``, ``tts_up`` and ``llm_up`` say
    which part is missing, as kyutai-labs/unmute's frontend reads them, and ``voice.stt_reason``
    why the speech-to-text is down when the engine knows. ``llm`` says which
    LLM it is (``embedded``, ``remote`` or ``off``), its model, why it is down, and how its
    slots are used. The engines' and the LLM's URLs and keys are never shown: any may be a
    secret.
    """
    default = request.app[PACKS].default
    llm = request.app[LLM_BACKEND]
    engines = request.app[VOICE]
    stt_up, tts_up = await asyncio.gather(_probe(engines.stt), _probe(engines.tts))
    llm_up = llm.backend is not None
    return web.json_response(
        {
            "ok": stt_up and tts_up and llm_up,
            "stt_up": stt_up,
            "tts_up": tts_up,
            "llm_up": llm_up,
            # kyutai-labs/unmute's frontend offers an upload when this is true; we clone no voices.
            "voice_cloning_up": False,
            "voice": {
                "stt": engines.stt.name,
                "tts": engines.tts.name,
                "stt_reason": None if stt_up else engines.stt.down_reason,
            },
            "sessions": len(request.app[SESSIONS]),
            "default_pack": {
                "name": default.pack,
                "version": default.version,
                "characters": len(default),
            },
            "llm": llm_entry(llm),
        }
    )


def llm_entry(llm: LLM) -> dict[str, Any]:
    """The ``llm`` part of ``/v1/health``: which LLM, whether it is up, and why not."""
    usage = llm.slots.usage if llm.slots is not None else None
    return {
        "kind": llm.kind,
        "configured": llm.kind != "off",
        "up": llm.backend is not None,
        "model": llm.model,
        "reason": None if llm.backend is not None else llm.reason,
        "slots": None if usage is None else asdict(usage),
    }


async def voices(request: web.Request) -> web.Response:
    """The default pack's good characters (all of them with ``?all=true``), in pack order.

    Only good ones by default, because kyutai-labs/unmute's frontend offers every entry it
    gets as a choice, as the peer's ``/v1/voices`` does.
    """
    default = request.app[PACKS].default
    everyone = request.query.get("all", "").lower() in ("1", "true", "yes")
    return web.json_response(
        [voice_entry(character) for character in default.values() if everyone or character.good]
    )


async def _probe(engine: SpeechToText | TextToSpeech) -> bool:
    """``engine.probe()`` within :data:`PROBE_SECONDS`; an error or a time-out is down."""
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            return await engine.probe()
    except Exception:
        logger.warning("probing the %s engine failed", engine.name, exc_info=True)
        return False


def voice_entry(character: Character) -> dict[str, Any]:
    """One character in the shape kyutai-labs/unmute's frontend reads.

    ``{name, good, comment, instructions, source, instructions_type}``: ``instructions`` is
    the character's instructions object, and ``source`` its voice source, which always has a
    ``path_on_server`` (the frontend sends it back as ``session.update``'s ``voice``) and, for
    a Freesound voice, a ``sound_instance`` with a ``username`` (``null`` when unknown), which
    the frontend reads to name a voice.
    """
    return {
        "name": character.name,
        "good": character.good,
        "comment": character.comment,
        "instructions": character.instructions.model_dump(mode="json"),
        "source": voice_source(character.voice),
        "instructions_type": character.instructions.type,
    }


def voice_source(voice: FileVoice | FreesoundVoice) -> dict[str, Any]:
    """A voice source as the frontend's ``FileVoiceSource`` / ``FreesoundVoiceSource`` reads it."""
    source = voice.model_dump(mode="json")
    if isinstance(voice, FreesoundVoice):
        source["sound_instance"] = {"username": None, **(source["sound_instance"] or {})}
    return source
