"""What a session's system prompt depends on besides its character and its seed.

The prompt builders are pure: they take a :class:`PromptContext` and never read the clock,
the environment or a file. This is the impure side that makes the context at the moment a
session renders a prompt: the current time in the operator's time zone, the operator's
conversation language, and the operator's news headlines as they stand now. One source is
shared by every session of an application.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from unmute_server.characters.prompts import PromptContext
from unmute_server.conversation.news import NewsFeed


@dataclass(frozen=True, slots=True)
class PromptSource:
    """The operator's zone, language and (optional) news feed; makes one context per render."""

    zone: ZoneInfo
    language: str = "en"
    news: NewsFeed | None = None

    def context(self, seed: int) -> PromptContext:
        """The context for rendering a prompt now, with a session's ``seed``."""
        return PromptContext(
            now=datetime.now(self.zone),
            timezone=self.zone.key,
            seed=seed,
            language=self.language,
            news_headlines=self.news.headlines() if self.news is not None else (),
        )


#: Coordinated Universal Time, English, no news: what a session uses unless told otherwise.
DEFAULT_PROMPT_SOURCE = PromptSource(ZoneInfo("UTC"))
