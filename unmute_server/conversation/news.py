"""Operator-supplied news headlines for ``news`` characters, read from a plain text file.

A ``news`` character talks through today's headlines and must never invent any (its prompt
says so when there are none). Headlines are the operator's to choose, so they come from a
file the operator edits (``--news-file``): one headline per line, blank lines and lines
starting with ``#`` ignored. News changes during the day, so :class:`NewsFeed` follows the
file: a session rendering a prompt gets the file's current headlines, re-read only when the
file's stat changes and checked at most once per ``check_interval`` seconds, so a busy server
does one ``stat`` every few seconds, not one per session. A file that turns bad after start-up
(deleted, undecodable, too large) keeps the last good headlines and logs why once; at start-up
the same problems stop the server with a message naming the file and line.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

#: Largest news file read; a headline list is a few hundred bytes, this is generous.
MAX_NEWS_FILE_BYTES: Final = 64 * 1024

#: Longest headline: a sentence, not an article (the whole list goes into every prompt).
MAX_HEADLINE_CHARS: Final = 300

#: Seconds between two looks at the file's stat.
DEFAULT_CHECK_INTERVAL: Final = 5.0


class NewsFileError(Exception):
    """The news file cannot be used; the message names the file (and the line, if one)."""


def parse_headlines(text: str, source: str) -> tuple[str, ...]:
    """The headlines in ``text``, one per non-blank, non-comment line, whitespace collapsed.

    Raises :class:`NewsFileError` naming ``source`` and the line of a headline that is too
    long, rather than cutting it: a cut headline could say something the operator did not.
    """
    headlines: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        headline = " ".join(line.split())
        if not headline or headline.startswith("#"):
            continue
        if len(headline) > MAX_HEADLINE_CHARS:
            raise NewsFileError(
                f"{source}:{number}: headline is {len(headline)} characters long; "
                f"the limit is {MAX_HEADLINE_CHARS}"
            )
        headlines.append(headline)
    return tuple(headlines)


def read_news_file(path: Path) -> tuple[str, ...]:
    """Read and parse the news file, or raise :class:`NewsFileError` saying what is wrong."""
    try:
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > MAX_NEWS_FILE_BYTES:
                raise NewsFileError(
                    f"{path}: news file is {size} bytes; the limit is {MAX_NEWS_FILE_BYTES}"
                )
            data = stream.read(MAX_NEWS_FILE_BYTES + 1)
    except OSError as error:
        raise NewsFileError(f"{path}: cannot read the news file: {error.strerror}") from None
    if len(data) > MAX_NEWS_FILE_BYTES:  # it grew between fstat and read
        raise NewsFileError(f"{path}: news file is larger than {MAX_NEWS_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise NewsFileError(f"{path}:{line}: news file is not valid UTF-8") from None
    return parse_headlines(text.removeprefix("\ufeff"), str(path))


def _stat_key(path: Path) -> tuple[int, int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class NewsFeed:
    """The headlines of one news file, following its changes.

    The constructor reads the file and raises :class:`NewsFileError` if it cannot, so a bad
    file stops start-up. ``clock`` is a monotonic clock in seconds (tests pass their own).
    """

    __slots__ = ("_check_interval", "_clock", "_headlines", "_next_check", "_path", "_stat_key")

    def __init__(
        self,
        path: Path,
        *,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._check_interval = check_interval
        self._clock = clock
        self._stat_key = _stat_key(path)
        self._headlines = read_news_file(path)
        self._next_check = clock() + check_interval

    def headlines(self) -> tuple[str, ...]:
        """The current headlines: re-read if the file changed since the last look."""
        now = self._clock()
        if now < self._next_check:
            return self._headlines
        self._next_check = now + self._check_interval
        key = _stat_key(self._path)
        if key == self._stat_key:
            return self._headlines
        self._stat_key = key
        try:
            self._headlines = read_news_file(self._path)
        except NewsFileError as error:
            # Logged once per change of the file, not once per look: the key is remembered.
            logger.warning("keeping the previous %d headlines: %s", len(self._headlines), error)
        return self._headlines
