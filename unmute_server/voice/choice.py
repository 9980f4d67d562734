"""Which voice a character speaks with on each engine.

The character's ``voices`` table wins (an embedded ``+variant`` alone speaks the character's
language with that variant); an engine it leaves out gets a voice derived from the
character's name with SHA-256, so a character sounds the same in every process and on every
machine (Python's ``hash()`` of a string changes with each process) and two characters most
often sound different. The embedded voice speaks the character's language where it has one.
"""

from __future__ import annotations

import hashlib
from typing import Final

from unmute_server.characters.model import Character
from unmute_server.characters.voices import OPENAI_VOICES
from unmute_server.voice.tts.engine import VoiceChoice

#: The espeak-ng variants a derived embedded voice picks from: the plainest male and female ones.
DERIVED_EMBEDDED_VARIANTS: Final = (
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
)


def voice_choice(character: Character, default_language: str = "en") -> VoiceChoice:
    """The voice ``character`` speaks with on each engine.

    ``default_language`` (the server's ``--language``) is used when the character's
    instructions name none; of a pair such as ``en/fr``, the first language is spoken.
    """
    table = character.voices
    embedded = table.embedded if table is not None else None
    openai = table.openai if table is not None else None
    language = (character.instructions.language or default_language).partition("/")[0]
    if embedded is None:
        embedded = f"{language}+{_pick(DERIVED_EMBEDDED_VARIANTS, 'embedded', character.name)}"
    elif embedded.startswith("+"):  # a variant alone: the character's language, this timbre
        embedded = language + embedded
    if openai is None:
        openai = _pick(OPENAI_VOICES, "openai", character.name)
    return VoiceChoice(kyutai=character.voice.path_on_server, embedded=embedded, openai=openai)


def _pick(choices: tuple[str, ...], engine: str, name: str) -> str:
    """One of ``choices``, the same for ``name`` in every process; each engine draws apart."""
    digest = hashlib.sha256(f"{engine}\0{name}".encode()).digest()
    return choices[int.from_bytes(digest[:8], "big") % len(choices)]
