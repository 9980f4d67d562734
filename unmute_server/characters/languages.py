"""Which language codes exist, what they are called, and what an author most likely meant.

Characters, prompt contexts and the server's ``--language`` name a language by its ISO 639-1
code (``fr``) or a pair (``en/fr``); a code must exist, because a prompt that says "answer in
the language with code 'zz'" fails silently in front of a listener. Authors write names
(``french``), locale tags (``fr-FR``) and three-letter codes (``fra``) just as often, so a
refused value comes with the code it most likely meant.
"""

from __future__ import annotations

import difflib
import re

from unmute_server.characters.iso639 import ISO_639_1

#: ISO 639-1 code to the English name a prompt uses for it.
LANGUAGE_NAMES: dict[str, str] = {language.code: language.name for language in ISO_639_1}

#: What a language value must look like, as a JSON Schema pattern (existence is checked too).
LANGUAGE_CODE_PATTERN = r"^[a-z]{2}(/[a-z]{2})?$"

LANGUAGE_CODE_FORM = "a two-letter ISO 639-1 code such as `fr`, or a pair such as `en/fr`"

_SHAPE = re.compile(LANGUAGE_CODE_PATTERN.strip("^$"))


def _aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for language in ISO_639_1:
        for alias in (language.name, *language.other_names, *language.three_letter_codes):
            aliases.setdefault(alias.casefold(), language.code)
        aliases.setdefault(language.code, language.code)
    return aliases


#: Every spelling an author may mean a code by, case-folded: ``fra``, ``fre``, ``french``.
_ALIASES = _aliases()

#: A locale tag's language part: ``fr`` of ``fr-FR``, ``fr_CA`` or ``fr-Latn-FR``.
_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)+")


def is_language_code(code: str) -> bool:
    """Whether ``code`` is a language as characters name it: ``en``, or a pair like ``en/fr``,
    of codes that exist.

    The one definition that character files, prompt contexts and the server's ``--language``
    are checked against.
    """
    return _SHAPE.fullmatch(code) is not None and all(
        part in LANGUAGE_NAMES for part in code.split("/")
    )


def language_problem(value: str) -> str | None:
    """Why ``value`` is not a language code, with the code it most likely meant; ``None`` when
    it is one."""
    if is_language_code(value):
        return None
    if _SHAPE.fullmatch(value) is not None:
        unknown = [part for part in value.split("/") if part not in LANGUAGE_NAMES]
        listed = " and ".join(f"`{part}`" for part in unknown)
        why = f"{listed} {'is' if len(unknown) == 1 else 'are'} not an ISO 639-1 code"
    else:
        why = f"{value!r} is not a language code"
    message = f"{why}; write {LANGUAGE_CODE_FORM}"
    meant = suggested_language(value)
    if meant is not None:
        message += f"; did you mean `{meant}`?"
    return message


def suggested_language(value: str) -> str | None:
    """The code ``value`` most likely names: ``french``, ``fr-FR``, ``fra`` and ``FR`` all give
    ``fr``, ``english/french`` gives ``en/fr``; ``None`` when nothing is close."""
    parts = value.split("/")
    if len(parts) > 2:
        return None
    found = [_one_suggestion(part.strip()) for part in parts]
    if any(code is None for code in found):
        return None
    return "/".join(code for code in found if code is not None)


def _one_suggestion(value: str) -> str | None:
    tag = _TAG.fullmatch(value)
    if tag is not None:
        value = tag.group(1)
    folded = value.casefold()
    if folded in _ALIASES:
        return _ALIASES[folded]
    if len(folded) < 4:  # a near miss of a short code is a guess, not a suggestion
        return None
    close = difflib.get_close_matches(folded, list(_ALIASES), n=1, cutoff=0.8)
    return _ALIASES[close[0]] if close else None


def language_name(code: str) -> str:
    """``fr`` -> ``French``; a pair ``en/fr`` -> ``English or French``."""
    return " or ".join(one_language_name(part) for part in code.split("/"))


def one_language_name(code: str) -> str:
    """The English name of one code; a code that is not in the table is named by its code
    (only a caller that skipped :func:`is_language_code` can have one)."""
    return LANGUAGE_NAMES.get(code, f"the language with ISO 639-1 code {code!r}")
