"""A real server on loopback (embedded engines, fake LLM) and Debian's Chromium driving it.

Everything here lives for the whole module: one server, one fake LLM, one browser; each test
opens its own browser context (fresh permissions, storage and page). The browser's microphone
is Chromium's fake capture device playing the committed speech fixture once, then silence.

Chromium comes from Debian (``/usr/bin/chromium``, installed by ``make``); Playwright's own
browser download is never used. Without it the tests skip on a workstation and fail in CI
(``CI=true``), where a missing browser would otherwise pass unnoticed.
"""

from __future__ import annotations

import os
import shutil
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import tomli_w
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.fake_llm import FakeLLM, StreamReply
from tests.server.conftest import DEFAULT_NAMES, SECOND_NAMES, write_pack
from tests.voice import speech_fixtures
from unmute_server.llm import LLMSettings
from unmute_server.server.app import app_runner
from unmute_server.server.settings import Settings
from unmute_server.server.state import VOICE

CHROMIUM = "/usr/bin/chromium"
SPEECH = "hello_coffee"
ANSWER = ("Of course. ", "One cup of coffee ", "coming right up.")
#: A character name that is HTML: the page must show it as these very characters.
XSS_NAME = "<img src=x onerror=window.pwned=1>"
#: How long any wait in the page may take before the test fails (never a speed claim).
WAIT_MS = 60_000


@dataclass(frozen=True, slots=True)
class Site:
    url: str
    fake_llm: FakeLLM
    screenshots: Path


def chromium_or_skip() -> str:
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"{CHROMIUM} is missing: run `make system-deps` as root (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _packs(root: Path) -> Path:
    write_pack(root, "default", DEFAULT_NAMES)
    # Alice is ready to talk; Bob (good = false) is marked "not ready".
    alice = root / "default" / "alice.toml"
    alice.write_text(
        tomli_w.dumps(
            {
                "name": "Alice",
                "good": True,
                "comment": "Cheerful barista.",
                "voice": {
                    "source_type": "file",
                    "path_on_server": "voices/alice.wav",
                    "description": "warm, quick",
                },
                "instructions": {"type": "constant", "text": "You are Alice.", "language": "en"},
            }
        ),
        encoding="utf-8",
    )
    write_pack(root, "second", SECOND_NAMES)
    write_pack(root, "broken", ["Fay"], bad__toml='name = "Gus"\nvoice = 3\n')
    xss = root / "xss"
    xss.mkdir()
    (xss / "xss.toml").write_text(
        tomli_w.dumps(
            {
                "name": XSS_NAME,
                "good": True,
                "comment": "<b>not bold</b>",
                "voice": {"source_type": "file", "path_on_server": "voices/xss.wav"},
                "instructions": {"type": "constant", "text": "You are a test."},
            }
        ),
        encoding="utf-8",
    )
    return root


#: Silence between the two times the microphone says the fixture: long enough for the
#: character to be speaking when the second comes, however busy the machine, so the second
#: interrupts it (barge-in); a test that needs one turn stops talking before then.
SECONDS_BETWEEN_TURNS = 12


def _silence(seconds: float) -> bytes:
    return bytes(2 * int(24_000 * seconds))


def speech_wav(folder: Path) -> Path:
    """What Chromium's fake microphone plays (24 kHz mono PCM16, once): the speech fixture,
    silence, the fixture again, and a second and a half of silence so each turn ends."""
    path = folder / f"{SPEECH}.wav"
    speech = speech_fixtures.pcm16_bytes(SPEECH)
    pcm = speech + _silence(SECONDS_BETWEEN_TURNS) + speech + _silence(1.5)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(24_000)
        out.writeframes(pcm)
    return path


@pytest.fixture(scope="module")
def screenshots(pytestconfig: pytest.Config) -> Path:
    """The ``--screenshots`` folder, emptied: it holds this run's pictures only."""
    folder = Path(pytestconfig.getoption("--screenshots"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def microphone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_wav(tmp_path_factory.mktemp("microphone"))


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _packs(tmp_path_factory.mktemp("packs"))


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def site(packs: Path, screenshots: Path) -> AsyncIterator[Site]:
    """The server under test and the fake LLM behind it, on loopback, for the module."""
    fake = FakeLLM(default=StreamReply(chunks=ANSWER))
    llm_runner = web.AppRunner(fake.app())
    await llm_runner.setup()
    await web.TCPSite(llm_runner, "127.0.0.1", 0).start()
    fake.base_url = f"http://127.0.0.1:{llm_runner.addresses[0][1]}/v1"
    settings = Settings(
        port=0,
        packs_root=packs,
        default_pack="default",
        llm=LLMSettings(url=fake.base_url, model="fake-model"),
    )
    runner = app_runner(settings)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        # Started before the page asks: a busy machine may take longer to load an engine
        # than /v1/health waits for a probe, and the page shows what health says.
        engines = runner.app[VOICE]
        assert await engines.stt.probe()
        assert await engines.tts.probe()
        yield Site(f"http://127.0.0.1:{runner.addresses[0][1]}", fake, screenshots)
    finally:
        await runner.cleanup()
        await llm_runner.cleanup()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser(microphone: Path) -> AsyncIterator[Browser]:
    executable = chromium_or_skip()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone}%noloop",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Tab:
    """One browser context on the page, and the errors its page logged."""

    context: BrowserContext
    page: Page
    problems: list[str]


async def open_page(
    browser: Browser, site: Site, *, microphone: bool = True, width: int = 1280, height: int = 900
) -> Tab:
    """A fresh context on the page; ``microphone`` says whether the person allows it."""
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        permissions=["microphone"] if microphone else [],
    )
    context.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    page = await context.new_page()
    tab = Tab(context, page, [])
    page.on("pageerror", lambda error: tab.problems.append(str(error)))
    page.on(
        "console",
        lambda message: tab.problems.append(message.text) if message.type == "error" else None,
    )
    page.on(
        "response",
        lambda response: (
            tab.problems.append(f"{response.status} {response.url}")
            if response.status >= 400
            else None
        ),
    )
    await page.goto(site.url + "/")
    return tab
