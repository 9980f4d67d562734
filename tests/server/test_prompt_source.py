"""The operator's time zone, language and news file reach a session's rendered prompt."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tomli_w
from aiohttp import web

from tests.server.conftest import MakeServer
from unmute_server.characters.model import TEMPLATE_PLACEHOLDERS
from unmute_server.conversation.news import NewsFeed
from unmute_server.conversation.prompt_source import PromptSource
from unmute_server.server.app import StartupError, create_app
from unmute_server.server.settings import Settings


def _character(name: str, instructions: dict[str, str]) -> str:
    return tomli_w.dumps(
        {
            "name": name,
            "voice": {"source_type": "file", "path_on_server": "voices/x.wav"},
            "instructions": instructions,
        }
    )


@pytest.fixture
def prompt_pack(packs_root: Path) -> str:
    """A pack with a news character and a template that shows the zone and the language."""
    folder = packs_root / "prompts"
    folder.mkdir()
    (folder / "desk.toml").write_text(_character("Desk", {"type": "news"}), encoding="utf-8")
    (folder / "clock.toml").write_text(
        _character(
            "Clock",
            {"type": "template", "text": "Zone {timezone}; language {language_name}; {date}."},
        ),
        encoding="utf-8",
    )
    return "prompts"


@pytest.fixture
def news_file(tmp_path: Path) -> Path:
    path = tmp_path / "news.txt"
    path.write_text(
        "# what the desk may talk about today\nNight trains return to the valley\n\n"
        "Library opens on Sundays\n",
        encoding="utf-8",
    )
    return path


async def test_a_news_character_speaks_the_operators_headlines(
    make_server: MakeServer, prompt_pack: str, news_file: Path
) -> None:
    server = await make_server(default_pack=prompt_pack, news_file=news_file)
    client = await server.connect()
    updated = await client.update(voice="Desk")
    prompt = updated["session"]["instructions"]
    assert "Night trains return to the valley" in prompt
    assert "Library opens on Sundays" in prompt
    assert "what the desk may talk about" not in prompt


async def test_without_a_news_file_the_news_character_says_it_has_no_headlines(
    make_server: MakeServer, prompt_pack: str
) -> None:
    server = await make_server(default_pack=prompt_pack)
    client = await server.connect()
    prompt = (await client.update(voice="Desk"))["session"]["instructions"]
    assert "no headlines" in prompt
    assert "Night trains" not in prompt


async def test_the_operators_zone_and_language_fill_the_template(
    make_server: MakeServer, prompt_pack: str
) -> None:
    assert {"timezone", "language_name", "date"} <= set(TEMPLATE_PLACEHOLDERS)
    server = await make_server(default_pack=prompt_pack, timezone="Asia/Tokyo", language="fr")
    client = await server.connect()
    before = datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()
    prompt = (await client.update(voice="Clock"))["session"]["instructions"]
    after = datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()
    assert "Zone Asia/Tokyo; language French;" in prompt
    assert before in prompt or after in prompt  # the date in Tokyo, across midnight too


async def test_an_unreadable_news_file_stops_start_up_naming_it(
    settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "news.txt"
    bad.write_bytes(b"fine\n\xff\n")
    runner = web.AppRunner(create_app(settings.replace(news_file=bad)))
    try:
        with pytest.raises(StartupError, match=r"news file: .*news\.txt:2: .*not valid UTF-8"):
            await runner.setup()
    finally:
        await runner.cleanup()


def test_a_prompt_source_makes_contexts_in_its_zone_with_the_current_headlines(
    news_file: Path,
) -> None:
    source = PromptSource(ZoneInfo("Europe/Paris"), "en/fr", NewsFeed(news_file))
    context = source.context(seed=7)
    assert context.timezone == "Europe/Paris"
    assert context.now.tzinfo == ZoneInfo("Europe/Paris")
    assert (context.language, context.seed) == ("en/fr", 7)
    assert context.news_headlines == (
        "Night trains return to the valley",
        "Library opens on Sundays",
    )
