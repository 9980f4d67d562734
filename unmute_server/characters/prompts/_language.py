"""The one rule about which language to speak, in the words a prompt uses for it."""

from __future__ import annotations

from unmute_server.characters.languages import (
    LANGUAGE_NAMES,
    language_name,
    one_language_name,
)

__all__ = ["LANGUAGE_NAMES", "language_name", "language_rule"]


def language_rule(code: str) -> str:
    """The paragraph that tells the model which language to answer in.

    A single code is firm, because a voice built for one language sounds wrong in another. A
    pair lets the model follow the person, starting with the first.
    """
    first, _, second = code.partition("/")
    if second:
        first_name, second_name = one_language_name(first), one_language_name(second)
        return (
            f"You speak {first_name} and {second_name}. Answer in whichever of the two the "
            f"person is using, and start in {first_name} when you cannot tell."
        )
    name = one_language_name(first)
    return (
        f"Answer in {name}. If the person speaks another language, keep answering in "
        f"{name}, simply and kindly."
    )
