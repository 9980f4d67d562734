"""Finding one character for the commands that take ``PACK NAME`` (``show``, ``say``).

A name that does not resolve is a :class:`UsageError` whose message lists the known names and
the closest match, so an author can fix a typo without opening the pack.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from unmute_server.characters.model import Character
from unmute_server.characters.pack import PackNameError, load_pack, resolve_pack
from unmute_server.characters.suggestions import closest_name
from unmute_server.terminal_text import escape_controls


class UsageError(Exception):
    """A flag or name the user must change; the message says how."""


def find_character(packs_root: Path, pack: str, name: str) -> Character:
    """Character ``name`` of pack ``pack``, loaded as a session loads it."""
    try:
        folder = resolve_pack(packs_root, pack)
    except PackNameError as error:
        raise UsageError(_unknown_pack(packs_root, pack, error.message)) from error
    with folder:
        registry = load_pack(folder, pack)
    character = registry.get(name)
    if character is None:
        message = f"pack {pack!r} has no character named {name!r}"
        message += _choices(name, list(registry), "characters")
        if registry.error_count:
            message += (
                f"\nthe pack has errors, which may hide a character; see: unmute-server lint "
                f"{escape_controls(os.path.join(str(packs_root), pack))}"
            )
        raise UsageError(message)
    return character


def _unknown_pack(packs_root: Path, pack: str, reason: str) -> str:
    try:
        known = sorted(
            entry.name
            for entry in os.scandir(packs_root)
            if entry.is_dir() and not entry.name.startswith(".")
        )
    except OSError:
        shown = escape_controls(str(packs_root))
        return f"{reason}; the packs root {shown} cannot be read (see --packs-root)"
    return reason + _choices(pack, known, "packs")


def _choices(wanted: str, known: Iterable[str], noun: str) -> str:
    """``; did you mean 'Nova'?`` and the list of known names, for an error message."""
    names = list(known)
    if not names:
        return f"; there are no {noun}"
    close = closest_name(wanted, names)
    hint = f"; did you mean {close!r}?" if close else ""
    return f"{hint}\nknown {noun}: {', '.join(repr(name) for name in names)}"
