"""Language codes to the words a prompt uses for them, and the one rule about which to speak."""

from __future__ import annotations

#: ISO 639-1 codes and their English names. A code missing here still works: the prompt
#: names it by its code, which language models understand.
LANGUAGE_NAMES: dict[str, str] = {
    "ar": "Arabic",
    "bg": "Bulgarian",
    "ca": "Catalan",
    "cs": "Czech",
    "cy": "Welsh",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "eu": "Basque",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "ga": "Irish",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "hu": "Hungarian",
    "id": "Indonesian",
    "is": "Icelandic",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "sl": "Slovenian",
    "sr": "Serbian",
    "sv": "Swedish",
    "sw": "Swahili",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
    "zh": "Chinese",
}


def _one_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, f"the language with ISO 639-1 code {code!r}")


def language_name(code: str) -> str:
    """``fr`` -> ``French``; a pair ``en/fr`` -> ``English or French``."""
    return " or ".join(_one_name(part) for part in code.split("/"))


def language_rule(code: str) -> str:
    """The paragraph that tells the model which language to answer in.

    A single code is firm, because a voice built for one language sounds wrong in another. A
    pair lets the model follow the person, starting with the first.
    """
    first, _, second = code.partition("/")
    if second:
        return (
            f"You speak {_one_name(first)} and {_one_name(second)}. Answer in whichever of the "
            f"two the person is using, and start in {_one_name(first)} when you cannot tell."
        )
    name = _one_name(first)
    return (
        f"Answer in {name}. If the person speaks another language, keep answering in "
        f"{name}, simply and kindly."
    )
