"""The page in a real Chromium, against a real server with the embedded engines and a fake LLM.

Each state is saved as a screenshot under ``--screenshots`` so a person can look at the page
without running it.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import XSS_NAME, Site, open_page
from tests.fake_llm import StreamReply

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def shoot(page: Page, site: Site, name: str) -> None:
    await page.screenshot(path=str(site.screenshots / f"{name}.png"), full_page=True)


async def stats(page: Page) -> dict[str, int]:
    """The page's audio counters, read at one instant."""
    found = await page.evaluate(
        "() => Object.fromEntries(Object.entries("
        "document.getElementById('audio-stats').dataset).map(([k, v]) => [k, Number(v)]))"
    )
    assert isinstance(found, dict)
    return found


async def wait_for_stat(page: Page, name: str, at_least: int) -> None:
    # A function, not an expression: the page's CSP forbids the eval an expression needs.
    try:
        await page.wait_for_function(
            "([name, atLeast]) => "
            "Number(document.getElementById('audio-stats').dataset[name] || 0) >= atLeast",
            arg=[name, at_least],
        )
    except PlaywrightTimeoutError:
        transcript = await page.locator("#transcript").inner_text()
        pytest.fail(f"{name} never reached {at_least}: {await stats(page)}\n{transcript}")


async def characters(page: Page) -> list[str]:
    return await page.locator("#character-list .character-name").all_text_contents()


async def test_a_person_talks_to_a_character_and_hears_it_answer(
    browser: Browser, site: Site
) -> None:
    tab = await open_page(browser, site)
    page = tab.page
    try:
        await expect(page.locator("#connection-state")).to_have_text("connected")
        await expect(page.locator("#character-list li")).to_have_count(2)
        assert await characters(page) == ["Alice", "Bob"]
        alice = page.locator("#character-list li").nth(0)
        await expect(alice).to_contain_text("Cheerful barista.")
        await expect(alice).to_contain_text("voice: warm, quick")
        await expect(alice).to_contain_text("language: en")
        await expect(alice.locator(".not-ready")).to_have_count(0)
        await expect(page.locator("#character-list li").nth(1).locator(".not-ready")).to_have_text(
            "not ready"
        )
        engines = page.locator("#engine-state")
        await expect(engines).to_contain_text("speech-to-text embedded: up")
        await expect(engines).to_contain_text("text-to-speech embedded: up")
        await expect(engines).to_contain_text("LLM fake-model: up")
        await shoot(page, site, "1-ready")

        # The first character marked ready is chosen at once, so a newcomer can just talk.
        await expect(page.get_by_label("Alice")).to_be_checked()
        await page.get_by_label("Bob").check()
        await expect(page.get_by_label("Bob")).to_be_checked()
        await page.get_by_label("Alice").check()
        button = page.get_by_role("button", name="Start talking")
        await button.click()
        await expect(page.get_by_role("button", name="Stop")).to_be_visible()
        await expect(page.locator("#mic-status")).to_contain_text("Listening")
        await wait_for_stat(page, "chunksSent", 1)  # the microphone's audio goes out

        # The person's words appear (partial, then final), then the character's answer.
        user_line = page.locator("#transcript li", has_text="You:").first
        await expect(user_line).to_contain_text("coffee")
        answer = page.locator("#transcript li", has_text="coming right up")
        await expect(answer).to_contain_text("Alice: Of course. One cup of coffee coming right up.")
        # Its audio arrived, reached the playback worklet and was played.
        await wait_for_stat(page, "chunksReceived", 1)
        await wait_for_stat(page, "samplesPlayed", 2400)
        counted = await stats(page)
        # Every chunk the player got came as a response.audio.delta; none was lost on the way.
        assert counted["audioDeltas"] >= counted["chunksReceived"] > 0
        await expect(page.locator("#latency")).to_contain_text("turn 1:")
        request = site.fake_llm.requests[-1]
        assert request.system_prompt is not None
        assert request.system_prompt.startswith("You are Alice.")
        assert "coffee" in request.messages[-1]["content"].lower()
        await shoot(page, site, "2-answered")

        await page.get_by_role("button", name="Stop").click()
        await expect(page.get_by_role("button", name="Start talking")).to_be_visible()
        assert tab.problems == []
    finally:
        await tab.context.close()


async def test_switching_packs_author_view_and_a_name_that_is_html(
    browser: Browser, site: Site
) -> None:
    tab = await open_page(browser, site)
    page = tab.page
    try:
        await expect(page.locator("#character-list li")).to_have_count(2)
        packs = page.locator("#pack-select option")
        assert await packs.all_text_contents() == ["broken", "default", "second", "xss"]

        await page.get_by_label("Pack", exact=True).select_option("second")
        await page.get_by_role("button", name="Use this pack in the session").click()
        await expect(page.locator("#reload-result")).to_contain_text(
            "Loaded pack second: 3 characters, 0 errors"
        )
        await expect(page.locator("#session-pack")).to_have_text("second")
        assert await characters(page) == ["Carol", "Dave", "Eve"]
        await shoot(page, site, "3-pack-switched")

        await page.get_by_label("Pack", exact=True).select_option("broken")
        await page.get_by_role("button", name="Show diagnostics").click()
        rows = page.locator("#diagnostics tbody tr")
        await expect(rows.first).to_be_visible()
        where = await page.locator("#diagnostics td.where").all_text_contents()
        assert where, "the broken pack has diagnostics"
        assert all(w.startswith("broken/bad.toml:") for w in where), where
        assert any(not w.endswith(":0:0") for w in where), where  # real positions
        await expect(page.locator("#diagnostics-summary")).to_contain_text("errors")
        await page.get_by_role("button", name="Show system prompt").click()
        await expect(page.locator("#prompt")).to_contain_text("You are Fay.")
        await shoot(page, site, "4-author-view")

        # A pack whose character's name is HTML: shown as text, never run.
        await page.get_by_label("Pack", exact=True).select_option("xss")
        await page.get_by_role("button", name="Use this pack in the session").click()
        await expect(page.locator("#session-pack")).to_have_text("xss")
        await expect(page.locator("#character-list .character-name")).to_have_text(XSS_NAME)
        await expect(page.locator("#character-list")).to_contain_text("<b>not bold</b>")
        assert await page.locator("img").count() == 0
        assert await page.locator("#character-list b").count() == 0
        assert await page.evaluate("window.pwned") is None
        await shoot(page, site, "5-html-name-as-text")
        assert tab.problems == []
    finally:
        await tab.context.close()


async def test_a_refused_microphone_says_why_and_typing_still_talks(
    browser: Browser, site: Site
) -> None:
    tab = await open_page(browser, site, microphone=False, width=390, height=844)
    page = tab.page
    try:
        await expect(page.locator("#character-list li")).to_have_count(2)
        await page.get_by_role("button", name="Start talking").click()
        await expect(page.locator("#mic-status")).to_contain_text(
            "Microphone off: permission was refused"
        )
        text = page.get_by_label("Type instead of speaking")
        await expect(text).to_be_focused()
        await text.fill("Could I have a coffee?")
        await text.press("Enter")
        await expect(page.locator("#transcript")).to_contain_text("You: Could I have a coffee?")
        await expect(page.locator("#transcript")).to_contain_text(
            "Alice: Of course. One cup of coffee coming right up."
        )
        # The typed turn's answer is spoken in the character's voice too.
        await wait_for_stat(page, "audioDeltas", 1)
        # Phone width: nothing is wider than the screen.
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await shoot(page, site, "6-phone-typed")
    finally:
        await tab.context.close()


async def test_a_typed_turn_without_the_microphone_is_heard_in_the_characters_voice(
    browser: Browser, site: Site
) -> None:
    tab = await open_page(browser, site, microphone=False)
    page = tab.page
    try:
        await expect(page.get_by_label("Alice")).to_be_checked()
        text = page.get_by_label("Type instead of speaking")
        await expect(text).to_be_enabled()
        await text.fill("Could I have a coffee?")
        await text.press("Enter")
        await expect(page.locator("#transcript")).to_contain_text(
            "Alice: Of course. One cup of coffee coming right up."
        )
        await wait_for_stat(page, "audioDeltas", 1)
    finally:
        await tab.context.close()


async def test_speaking_over_the_character_stops_its_voice_at_once(
    browser: Browser, site: Site
) -> None:
    long_answer = tuple(f"This is sentence {n} of a long answer. " for n in range(40))
    site.fake_llm.enqueue(StreamReply(chunks=long_answer, delay=0.02))
    tab = await open_page(browser, site)
    page = tab.page
    try:
        await expect(page.get_by_label("Alice")).to_be_checked()
        await page.get_by_role("button", name="Start talking").click()
        await expect(page.locator("#transcript")).to_contain_text("sentence 1 of a long answer")
        await wait_for_stat(page, "samplesPlayed", 2400)
        before = await stats(page)
        assert before["interruptions"] == 0, before
        # The microphone speaks again while the character talks: the page empties the
        # playback worklet's buffer at once and marks the answer interrupted.
        await wait_for_stat(page, "interruptions", 1)
        after = await stats(page)
        assert after["flushes"] > before["flushes"], (before, after)
        await expect(page.locator("#transcript .interrupted")).to_have_text("(interrupted)")
        await shoot(page, site, "7-barge-in")
        await page.get_by_role("button", name="Stop").click()
        assert tab.problems == []
    finally:
        await tab.context.close()
