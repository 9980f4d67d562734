"""The parts every prompt shares: how to talk when every word is read aloud, and layout."""

from __future__ import annotations

from datetime import datetime

from unmute_server.characters.prompts._language import language_rule

#: Shared by every instruction type. The replies go to a speech synthesizer and the person's
#: words come from speech recognition, and both facts change how a model should write.
SPEAKING_STYLE = (
    "Everything you write is turned into speech and heard, not read. Talk the way people "
    "talk on the phone: short sentences, one idea at a time, and usually no more than two "
    "or three sentences before you let the other person speak. Never use markdown, bullet "
    "points, numbered lists, headings, emoji or symbols that cannot be said aloud; write "
    "numbers, units and abbreviations the way you would pronounce them. What the person says "
    "reaches you through speech recognition and may contain mistakes, so when a sentence "
    "makes no sense, make a sensible guess or ask them to say it again."
)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def clock_time(now: datetime) -> str:
    """``14:05``: 24-hour time, written here rather than by ``strftime`` (no locale)."""
    return f"{now.hour:02d}:{now.minute:02d}"


def weekday(now: datetime) -> str:
    return WEEKDAYS[now.weekday()]


def situation(now: datetime, timezone: str) -> str:
    """One sentence placing the conversation in time, for prompts that talk about today."""
    day = f"{weekday(now)}, {now.day} {MONTHS[now.month - 1]} {now.year}"
    return f"It is {day}, {clock_time(now)} in the {timezone} time zone."


def compose(*parts: str, language: str, then: tuple[str, ...] = ()) -> str:
    """The whole prompt: the builder's own paragraphs, the shared speaking rules, and last
    ``then``: what changes from one session to the next (the time, a seeded choice).

    That order is for the LLM server's prompt cache, which reuses the longest start a request
    shares with an earlier one: every session of a character shares everything before
    ``then``, so its first answer does not pay for reading the whole prompt again. Paragraphs
    are separated by one blank line; the prompt has no trailing newline.
    """
    paragraphs = [part.strip() for part in parts if part.strip()]
    changing = [part.strip() for part in then if part.strip()]
    return "\n\n".join([*paragraphs, SPEAKING_STYLE, language_rule(language), *changing])
