"""The news file: parsing, limits, and a feed that follows the file on disk (real files)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from unmute_server.conversation.news import (
    MAX_HEADLINE_CHARS,
    MAX_NEWS_FILE_BYTES,
    NewsFeed,
    NewsFileError,
    parse_headlines,
    read_news_file,
)


class StepClock:
    """A monotonic clock the test moves by hand, so no test waits on real time."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_headline_per_line_without_blanks_or_comments() -> None:
    text = "# today's news\n\n  Night trains   return \r\nLibrary opens Sundays\n   \n#x\n"
    assert parse_headlines(text, "news.txt") == ("Night trains return", "Library opens Sundays")


def test_a_too_long_headline_is_refused_with_its_line_not_cut() -> None:
    text = "short\n" + "x" * (MAX_HEADLINE_CHARS + 1) + "\n"
    with pytest.raises(NewsFileError, match=r"^news\.txt:2: headline is 301 characters long"):
        parse_headlines(text, "news.txt")


def test_reads_a_utf8_file_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_bytes("\ufeffLa fête du village\n".encode())
    assert read_news_file(path) == ("La fête du village",)


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(NewsFileError, match=r"news\.txt:2: news file is not valid UTF-8"):
        read_news_file(path)


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_bytes(b"a\n" * (MAX_NEWS_FILE_BYTES // 2 + 1))
    with pytest.raises(NewsFileError, match="the limit is 65536"):
        read_news_file(path)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(NewsFileError, match=r"missing\.txt: cannot read the news file"):
        read_news_file(tmp_path / "missing.txt")


def test_a_bad_file_at_start_stops_the_feed(tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_bytes(b"\xff")
    with pytest.raises(NewsFileError):
        NewsFeed(path)


def _rewrite(path: Path, text: str) -> None:
    """Write and move mtime forward, so the change is visible even on a coarse clock."""
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_the_feed_follows_the_file_but_looks_only_once_per_interval(tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_text("first\n", encoding="utf-8")
    clock = StepClock()
    feed = NewsFeed(path, check_interval=5.0, clock=clock)
    assert feed.headlines() == ("first",)

    _rewrite(path, "second\nthird\n")
    clock.now += 4.9
    assert feed.headlines() == ("first",)  # not looked at yet
    clock.now += 0.2
    assert feed.headlines() == ("second", "third")


def test_a_file_that_turns_bad_keeps_the_last_good_headlines_and_says_why_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "news.txt"
    path.write_text("good\n", encoding="utf-8")
    clock = StepClock()
    feed = NewsFeed(path, check_interval=1.0, clock=clock)

    _rewrite(path, "y" * (MAX_HEADLINE_CHARS + 5))
    with caplog.at_level(logging.WARNING, logger="unmute_server.conversation.news"):
        for _ in range(3):
            clock.now += 1.5
            assert feed.headlines() == ("good",)
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "keeping the previous 1 headlines" in warnings[0].getMessage()

    path.unlink()
    clock.now += 1.5
    assert feed.headlines() == ("good",)

    path.write_text("back\n", encoding="utf-8")
    clock.now += 1.5
    assert feed.headlines() == ("back",)
