"""One voice file per character: the pack-level check that makes a voice path a usable key.

kyutai-labs/unmute's frontend names a character in ``session.update`` by its voice's
``path_on_server`` rather than by its name, so within one pack a path must lead to one
character. Two characters sharing one is a CHR409 warning (both still load, and both can be
chosen by name); the server then refuses to guess which one the path meant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import FieldPath, Position, position_in
from unmute_server.characters.model import Character


def voice_path_warnings(
    sites: Iterable[tuple[Character, str, Mapping[FieldPath, Position]]],
) -> list[Diagnostic]:
    """CHR409 for each character whose ``voice.path_on_server`` an earlier one already has.

    ``sites`` are the loaded characters in pack order, each with its file and that file's
    field positions.
    """
    first_by_path: dict[str, tuple[str, str]] = {}
    warnings: list[Diagnostic] = []
    for character, path, positions in sites:
        voice_path = character.voice.path_on_server
        if voice_path is None:
            continue
        first = first_by_path.setdefault(voice_path, (character.name, path))
        if first[0] == character.name:
            continue
        at = position_in(positions, ("voice", "path_on_server"))
        warnings.append(
            Diagnostic(
                path,
                at.line,
                at.col,
                "CHR409",
                f"voice path_on_server {voice_path!r} is also {first[0]!r}'s in {first[1]}; "
                "give each character its own voice file, or clients can choose it by name only",
            )
        )
    return warnings


def character_for_voice(characters: Mapping[str, Character], voice: str) -> Character | None:
    """The character ``voice`` names: by name first, else by its one ``voice.path_on_server``.

    ``None`` when nothing matches, or when the path is shared (CHR409) and so names no one.
    """
    named = characters.get(voice)
    if named is not None:
        return named
    found = [c for c in characters.values() if c.voice.path_on_server == voice]
    return found[0] if len(found) == 1 else None
