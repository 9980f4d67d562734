"""The plain HTTP routes: ``/v1/health`` and ``/v1/voices`` (``/metrics`` is prometheus-async's).

Both answer from memory (the default pack's registry loaded at start-up and the open session
count), so a load balancer's health check never touches the disk.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from unmute_server.characters.model import Character
from unmute_server.server.state import PACKS, SESSIONS, SETTINGS


async def health(request: web.Request) -> web.Response:
    """``{"ok": true, "sessions": n, "default_pack": {...}, "llm": {configured, model}}``.

    The LLM's URL and key are never shown: either may be a secret.
    """
    default = request.app[PACKS].default
    llm = request.app[SETTINGS].llm
    return web.json_response(
        {
            "ok": True,
            "sessions": len(request.app[SESSIONS]),
            "default_pack": {
                "name": default.pack,
                "version": default.version,
                "characters": len(default),
            },
            "llm": {"configured": llm is not None, "model": None if llm is None else llm.model},
        }
    )


async def voices(request: web.Request) -> web.Response:
    """The default pack's characters, in pack order, as the peer's ``/v1/voices`` lists them."""
    default = request.app[PACKS].default
    return web.json_response([voice_entry(character) for character in default.values()])


def voice_entry(character: Character) -> dict[str, Any]:
    """``{name, good, comment, voice, instructions_type}`` for one character."""
    return {
        "name": character.name,
        "good": character.good,
        "comment": character.comment,
        "voice": character.voice.model_dump(mode="json"),
        "instructions_type": character.instructions.type,
    }
