"""Character names that look alike: Unicode TR39 skeletons and mixed-script names.

A pack that holds ``Nova`` and ``N\u043eva`` (a Cyrillic o) shows a user two entries that
read the same, and either may be the one a client picks. Unicode Technical Standard #39
gives the two checks used here, both warnings (the names are valid, only misleading):

- two names are confusable when their *skeletons* are equal: each character mapped to the
  prototype it is confused with (``confusables.txt``), between two NFD normalisations;
- a name is mixed-script when no one script covers its letters (``Scripts.txt``), counting
  Common and Inherited characters (digits, punctuation, marks) as any script and Han as
  part of Japanese and Korean writing, as TR39's augmented script sets do.

The standard library has neither table, so both come from ``confusable-homoglyphs``, which
ships them (kept current with Unicode) with a public API. It is imported here, with the
module, so that loading a pack imports nothing; the prototype table is built once, at
import, and then each name costs one ``str.translate`` and a dict lookup.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confusable_homoglyphs import categories, confusables

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import FieldPath, Position, RawDocument, position_in

#: confusables.txt prints right-to-left glyphs between LEFT-TO-RIGHT MARKs so its comments
#: display in order; the package's pairs are read from those comments and keep the marks.
_LRM = "\u200e"


def _prototypes(pairs: Mapping[str, list[dict[str, str]]]) -> dict[int, str]:
    """``ord(source)`` to the string it is confused with, for ``str.translate``.

    The package gives confusables.txt's ``source -> prototype`` lines as pairs in both
    directions, so the direction is inferred from the file's shape: every source is a single
    character mapped to one prototype, and no prototype is itself a source. So a character
    paired with a sequence (``m`` with ``rn``) maps to that sequence; one paired with several
    characters is a prototype; one paired with a single character maps to it unless that
    one is paired with others (then it is the prototype), and when both have only each other
    either stands for both (only skeleton *equality* matters here). A sequence's own
    characters are mapped in turn, so every name maps to one representative spelling.
    """
    partners: dict[str, list[str]] = {}
    for key, entries in pairs.items():
        source = key.replace(_LRM, "")
        partners.setdefault(source, []).extend(entry["c"].replace(_LRM, "") for entry in entries)
    single: dict[str, str] = {}
    for char, others in partners.items():
        if len(char) != 1 or len(others) != 1 or len(others[0]) != 1:
            continue
        (other,) = others
        if len(partners.get(other, ())) == 1 and other > char:
            continue  # a lone pair: map the larger onto the smaller
        single[char] = other
    table = {ord(char): prototype for char, prototype in single.items() if prototype != char}
    for char, others in partners.items():
        if len(char) == 1 and len(others) == 1 and len(others[0]) > 1:
            table[ord(char)] = "".join(single.get(part, part) for part in others[0])
    return table


_PROTOTYPES = _prototypes(confusables.confusables_data)


def skeleton(name: str) -> str:
    """The TR39 skeleton of ``name``: equal skeletons mean the names can be taken for each other."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).translate(_PROTOTYPES))


#: Scripts that count as any script (TR39: Common and Inherited; Unknown is unassigned).
_ANY_SCRIPT = frozenset({"COMMON", "INHERITED", "Unknown"})

#: TR39's augmented script sets: Han is also written within Japanese (with kana), Korean
#: (with Hangul) and Chinese with Bopomofo, so those pairs are not mixed.
_AUGMENTED = {
    "HAN": frozenset({"HAN", "JPAN", "KORE", "HANB"}),
    "HIRAGANA": frozenset({"HIRAGANA", "JPAN"}),
    "KATAKANA": frozenset({"KATAKANA", "JPAN"}),
    "HANGUL": frozenset({"HANGUL", "KORE"}),
    "BOPOMOFO": frozenset({"BOPOMOFO", "HANB"}),
}


@functools.lru_cache(maxsize=4096)
def _script(char: str) -> str:
    """The Scripts.txt script of ``char`` (a binary search in Python, so remembered)."""
    if char.isascii():
        return "LATIN" if char.isalpha() else "COMMON"
    script: str = categories.alias(char)
    return script


def mixed_scripts(name: str) -> dict[str, list[str]]:
    """The characters of ``name`` by script when no one script covers them all, else ``{}``.

    An ASCII name is never mixed (its letters are Latin, the rest Common), so it costs one
    ``str.isascii``.
    """
    if name.isascii():
        return {}
    by_script: dict[str, list[str]] = {}
    for char in name:
        script = _script(char)
        if script not in _ANY_SCRIPT:
            by_script.setdefault(script, []).append(char)
    if len(by_script) < 2:
        return {}
    shared = frozenset.intersection(
        *(_AUGMENTED.get(script, frozenset({script})) for script in by_script)
    )
    return {} if shared else by_script


def _described(chars: Iterable[str], limit: int = 3) -> str:
    """``U+043E CYRILLIC SMALL LETTER O, ...``: a message must show what the eye cannot."""
    unique = list(dict.fromkeys(chars))
    shown = [f"U+{ord(char):04X} {unicodedata.name(char, '?')}" for char in unique[:limit]]
    if len(unique) > limit:
        shown.append(f"and {len(unique) - limit} more")
    return ", ".join(shown)


def mixed_script_warning(document: RawDocument, name: str) -> Diagnostic | None:
    """CHR305, at the name in ``document``, for a name whose letters come from scripts that
    are not written together; the (lazy) position is only looked up then."""
    by_script = mixed_scripts(name)
    if not by_script:
        return None
    ordered = sorted(by_script, key=lambda script: (len(by_script[script]), script))
    odd = ordered[:-1]  # every script but the one most of the name is written in
    scripts = " and ".join(script.title() for script in sorted(by_script))
    letters = "; ".join(f"{script.title()}: {_described(by_script[script])}" for script in odd)
    at = document.position_of(("name",))
    return Diagnostic(
        document.path,
        at.line,
        at.col,
        "CHR305",
        f"name {name!r} mixes {scripts} letters ({letters}); write it in one script",
    )


@dataclass(frozen=True, slots=True)
class NameSite:
    """A character name, its file in the pack, and that file's (lazy) field positions."""

    name: str
    path: str
    positions: Mapping[FieldPath, Position]


def lookalike_warnings(sites: Iterable[NameSite]) -> list[Diagnostic]:
    """CHR407 for each name whose skeleton an earlier name already has, naming that name.

    One skeleton and one dict lookup per name, so a pack build stays linear in its size.
    """
    first_by_skeleton: dict[str, NameSite] = {}
    warnings: list[Diagnostic] = []
    for site in sites:
        first = first_by_skeleton.setdefault(skeleton(site.name), site)
        if first is site or first.name == site.name:
            continue
        telling = [char for char in site.name if char not in first.name]
        telling = telling or [char for char in first.name if char not in site.name]
        at = position_in(site.positions, ("name",))  # only for a name reported
        warnings.append(
            Diagnostic(
                site.path,
                at.line,
                at.col,
                "CHR407",
                f"character name {site.name!r} looks like {first.name!r} in {first.path} "
                f"({_described(telling)}); rename one of them",
            )
        )
    return warnings
