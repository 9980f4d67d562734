"""What a prompt may depend on besides the character: the session's moment, place and seed.

Builders never read the clock, the environment or the global random generator; everything
that varies comes in through a :class:`PromptContext`, so one context and one character always
give one prompt, and a test can pin both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from unmute_server.characters.languages import is_language_code


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptContext:
    """The inputs of a system prompt that do not come from the character file.

    ``now`` must be timezone-aware and already in the session's time zone (``timezone`` is
    its name, for the prompt to say); the builders format it as given. ``language`` is the
    session's language, used when the instructions name none. ``seed`` drives every choice
    a builder makes (a topic, a quiz theme, an animal), so a session keeps its choices for
    as long as it keeps its seed. ``news_headlines`` are supplied by the operator.
    """

    now: datetime
    timezone: str
    seed: int
    language: str = "en"
    news_headlines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("PromptContext.now must be timezone-aware")
        if not self.timezone.strip():
            raise ValueError("PromptContext.timezone must name a time zone")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError("PromptContext.seed must be an int")
        if not is_language_code(self.language):
            raise ValueError(
                f"PromptContext.language {self.language!r} is not a code like 'en' or 'en/fr'"
            )
        if not isinstance(self.news_headlines, tuple) or not all(
            isinstance(headline, str) for headline in self.news_headlines
        ):
            raise TypeError("PromptContext.news_headlines must be a tuple of strings")
