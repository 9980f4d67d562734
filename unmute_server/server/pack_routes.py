"""``/v1/packs``: the packs under the packs root, as the server reads them, read-only.

An author sees a pack here exactly as a reload would load it and as ``unmute-server lint``
reports it: the pack name goes through :func:`resolve_pack` (the one gate between a name a
client sent and the file system, so nothing outside the packs root is ever read), the pack
is loaded through the application's registry cache (the same limits and build budget as a
reload, and a pack already loaded costs nothing), its diagnostics are the view
:func:`~unmute_server.cli.lint.lint_registry` gives, and a character's prompt is rendered
as a session renders it. Paths are pack-relative (``broken/bad.toml``): server paths are
never sent.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from unmute_server.characters.build_worker import BuildStoppedError
from unmute_server.characters.diagnostics import CODES
from unmute_server.characters.model import Character
from unmute_server.characters.pack import (
    PackChangedError,
    PackNameError,
    PackNameProblem,
    check_pack_name,
    resolve_pack,
)
from unmute_server.characters.prompts import render_system_prompt
from unmute_server.characters.registry import CharacterRegistry
from unmute_server.cli._lookup import name_choices
from unmute_server.cli.lint import lint_registry
from unmute_server.cli.lint_report import diagnostic_record, format_text
from unmute_server.protocol.error_codes import ErrorCode
from unmute_server.server.state import PACKS, PROMPT_SOURCE
from unmute_server.server.websocket import DEFAULT_PACK_ALIAS, NAME_PROBLEM_CODES

logger = logging.getLogger(__name__)

#: The HTTP status of each refused pack name (the ``error.code`` is the reload's).
_NAME_PROBLEM_STATUS = {
    PackNameProblem.INVALID_NAME: 400,
    PackNameProblem.OUTSIDE_ROOT: 403,
    PackNameProblem.NOT_FOUND: 404,
}

#: Largest ``seed`` the prompt endpoint takes (a session's seeds are 32-bit too).
MAX_SEED = 2**32 - 1


def error_response(status: int, code: ErrorCode, message: str, param: str) -> web.Response:
    """The JSON error every ``/v1/packs`` refusal answers with: code, message, what is wrong."""
    return web.json_response(
        {"error": {"code": code.value, "message": message, "param": param}}, status=status
    )


async def list_packs(request: web.Request) -> web.Response:
    """The names of the folders under the packs root a reload may name, in name order.

    Only names :func:`resolve_pack` would accept are listed (hidden folders are not packs);
    whether each loads is for ``/v1/packs/{pack}`` to say.
    """
    packs = request.app[PACKS]
    with packs.root.listing() as entries:
        names = sorted(
            entry.name
            for entry in entries
            if _acceptable(entry.name)
            and (entry.is_dir(follow_symlinks=False) or entry.is_symlink())
        )
    return web.json_response({"default": packs.default_name, "packs": names})


def _acceptable(name: str) -> bool:
    try:
        check_pack_name(name)
    except PackNameError:
        return False
    return True


async def pack_diagnostics(request: web.Request) -> web.Response:
    """A pack's characters and its diagnostics as ``lint`` gives them (``PACK/file:line:col``)."""
    loaded = await _load(request)
    if isinstance(loaded, web.Response):
        return loaded
    name, registry = loaded
    report = lint_registry(registry, name)
    diagnostics = [
        {**diagnostic_record(diagnostic), "hint": CODES[diagnostic.code].summary}
        for diagnostic in report.diagnostics
    ]
    return web.json_response(
        {
            "pack": name,
            "version": registry.version,
            "default": name == request.app[PACKS].default_name,
            "characters": [character_entry(character) for character in registry.values()],
            "diagnostics": diagnostics,
            "text": format_text(report.diagnostics),
            "summary": {
                "files": report.files,
                "characters": report.characters,
                "errors": sum(1 for d in report.diagnostics if d.is_error),
                "warnings": sum(1 for d in report.diagnostics if not d.is_error),
            },
        }
    )


async def character_prompt(request: web.Request) -> web.Response:
    """A character's system prompt, rendered as a session with ``seed`` would render it now
    (the operator's time zone, language and news), as ``unmute-server show`` prints it."""
    raw_seed = request.query.get("seed", "0")
    if not raw_seed.isascii() or not raw_seed.isdigit() or int(raw_seed) > MAX_SEED:
        return error_response(
            400,
            ErrorCode.INVALID_EVENT,
            f"seed must be a whole number from 0 to {MAX_SEED}",
            "seed",
        )
    loaded = await _load(request)
    if isinstance(loaded, web.Response):
        return loaded
    name, registry = loaded
    wanted = request.match_info["character"]
    character = registry.get(wanted)
    if character is None:
        message = f"pack {name!r} has no character named {wanted!r}"
        message += name_choices(wanted, list(registry), "characters")
        return error_response(404, ErrorCode.UNKNOWN_CHARACTER, message, "character")
    context = request.app[PROMPT_SOURCE].context(int(raw_seed))
    return web.json_response(
        {
            "pack": name,
            "character": character.name,
            "seed": int(raw_seed),
            "prompt": render_system_prompt(character, context),
        }
    )


async def _load(request: web.Request) -> tuple[str, CharacterRegistry] | web.Response:
    """The pack the URL names, loaded as a reload loads it, or the error response."""
    packs = request.app[PACKS]
    requested = request.match_info["pack"]
    name = packs.default_name if requested == DEFAULT_PACK_ALIAS else requested
    try:
        folder = resolve_pack(packs.root, name)
    except PackNameError as refused:
        code, _outcome = NAME_PROBLEM_CODES[refused.problem]
        return error_response(_NAME_PROBLEM_STATUS[refused.problem], code, refused.message, "pack")
    with folder:
        try:
            registry = await packs.cache.load(folder, name)
        except BuildStoppedError:
            raise web.HTTPServiceUnavailable(text="the server is shutting down") from None
        except PackChangedError:
            return error_response(
                409,
                ErrorCode.PACK_CHANGED_DURING_READ,
                f"pack {name!r} kept changing while it was read; try again once it is written",
                "pack",
            )
    packs.cache_metrics.update()
    return name, registry


def character_entry(character: Character) -> dict[str, Any]:
    """What the page shows of a character: its name, mark, comment, voice and language."""
    return {
        "name": character.name,
        "good": character.good,
        "comment": character.comment,
        "voice": character.voice.description,
        "language": character.instructions.language,
    }
