"""A character's voice on the engines that name voices their own way: the ``voices`` table.

Kyutai's TTS clones the voice at ``voice.path_on_server``; the embedded engine (espeak-ng) and
OpenAI-compatible engines pick from voices they ship, by name. A character file may name one per
engine::

    [voices]
    embedded = "+f3"
    openai = "coral"

The embedded value is handed to espeak-ng as its voice argument, so it must be a voice spec and
nothing else: a language code (``en``, ``fr-fr``, ``en-gb-scotland``) and an optional
``+variant`` (``m1``..``m8``, ``f1``..``f5``, ``croak``, ``whisper``...), never a path or an
option. A variant alone (``+f3``) keeps the character's language (or the server's), so a
character without a fixed language keeps its timbre in every language. The OpenAI value is any
short token (servers other than OpenAI's have their own names), with a warning for a name
outside OpenAI's list, which is most often a typo.
"""

from __future__ import annotations

import re
from typing import Final

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import RawDocument

_VARIANT = r"\+[A-Za-z][A-Za-z0-9]{0,31}"

#: An espeak-ng voice spec (``en``, ``en-gb+m4``), or a variant alone (``+f3``) to speak the
#: character's language with it: a JSON Schema pattern (ECMA-262 and Python alike; it ends with
#: ``(?![\s\S])`` because ``$`` also matches before a final line feed in Python).
EMBEDDED_VOICE_PATTERN: Final = (
    rf"^(?:[a-z]{{2,3}}(?:-[A-Za-z0-9]{{1,8}}){{0,4}}(?:{_VARIANT})?|{_VARIANT})(?![\s\S])"
)

#: An OpenAI-compatible voice name, as a JSON Schema pattern.
OPENAI_VOICE_PATTERN: Final = r"^[a-z0-9_-]{1,32}(?![\s\S])"

EMBEDDED_VOICE_FIX: Final = (
    "write an espeak-ng voice: a language code and an optional +variant (en-gb+m4), or a "
    "+variant alone (+f3) to speak the character's language"
)
OPENAI_VOICE_FIX: Final = (
    "write a voice name of 1 to 32 characters a-z, 0-9, '_' or '-', e.g. coral"
)

#: OpenAI's text-to-speech voices (a name outside the list is a warning, not an error).
OPENAI_VOICES: Final = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)

#: The variants espeak-ng 1.51 ships (``espeak-ng-data/voices/!v``); espeak-ng speaks an unknown
#: variant silently with its default voice, so naming one outside the list is a warning.
ESPEAK_VARIANTS: Final = frozenset(
    {
        *(f"m{number}" for number in range(1, 9)),
        *(f"f{number}" for number in range(1, 6)),
        *(f"klatt{suffix}" for suffix in ("", "2", "3", "4", "5", "6")),
        *(f"robosoft{suffix}" for suffix in ("", "2", "3", "4", "5", "6", "7", "8")),
        *(f"iven{suffix}" for suffix in ("", "2", "3", "4")),
        *(f"steph{suffix}" for suffix in ("", "2", "3")),
        *(f"RicishayMax{suffix}" for suffix in ("", "2", "3")),
        "Alex",
        "Alicia",
        "Andrea",
        "Andy",
        "Annie",
        "AnxiousAndy",
        "Demonic",
        "Denis",
        "Diogo",
        "Gene",
        "Gene2",
        "Henrique",
        "Hugo",
        "Jacky",
        "Lee",
        "Marco",
        "Mario",
        "Michael",
        "Mike",
        "Nguyen",
        "Storm",
        "Tweaky",
        "UniRobot",
        "adam",
        "anika",
        "anikaRobot",
        "announcer",
        "antonio",
        "aunty",
        "belinda",
        "benjamin",
        "boris",
        "caleb",
        "croak",
        "david",
        "ed",
        "edward",
        "edward2",
        "fast",
        "grandma",
        "grandpa",
        "gustave",
        "john",
        "kaukovalta",
        "linda",
        "marcelo",
        "max",
        "michel",
        "miguel",
        "norbert",
        "pablo",
        "paul",
        "pedro",
        "quincy",
        "rob",
        "robert",
        "sandro",
        "shelby",
        "travis",
        "victor",
        "whisper",
        "whisperf",
        "zac",
    }
)

_EMBEDDED_VOICE = re.compile(EMBEDDED_VOICE_PATTERN)
_OPENAI_VOICE = re.compile(OPENAI_VOICE_PATTERN)


def is_embedded_voice(spec: str) -> bool:
    """Whether ``spec`` is an espeak-ng voice spec (``en``, ``en-us+m3``): nothing else passes."""
    return _EMBEDDED_VOICE.fullmatch(spec) is not None


def is_openai_voice(name: str) -> bool:
    """Whether ``name`` is a plausible voice name for an OpenAI-compatible engine."""
    return _OPENAI_VOICE.fullmatch(name) is not None


def unknown_voice_warnings(
    document: RawDocument, embedded: str | None, openai: str | None
) -> list[Diagnostic]:
    """``CHR307`` for a valid name that the engine is not known to have, at the value."""
    found: list[Diagnostic] = []
    if embedded is not None and "+" in embedded:
        variant = embedded.partition("+")[2]
        if variant not in ESPEAK_VARIANTS:
            position = document.position_of(("voices", "embedded"))
            message = (
                f"'voices.embedded' variant {variant!r} is not one espeak-ng ships "
                "(m1-m8, f1-f5, croak, whisper, ...); espeak-ng would speak with its default voice"
            )
            found.append(Diagnostic(document.path, position.line, position.col, "CHR307", message))
    if openai is not None and openai not in OPENAI_VOICES:
        position = document.position_of(("voices", "openai"))
        message = (
            f"'voices.openai' is {openai!r}, not one of OpenAI's voices "
            f"({', '.join(OPENAI_VOICES)}); fine if your server has it, else a typo"
        )
        found.append(Diagnostic(document.path, position.line, position.col, "CHR307", message))
    return found
