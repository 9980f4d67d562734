"""The documentation (README.md and docs/) covers what the code defines: codes, placeholders,
settings, events, metrics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import unmute_server.server.metrics  # noqa: F401  (registers the metrics this test reads)
from tests.documentation import DOCUMENTATION, PAGES, PROJECT
from unmute_server.characters.diagnostics import CODES, Code
from unmute_server.characters.model import TEMPLATE_PLACEHOLDERS
from unmute_server.protocol.events import CLIENT_EVENT_TYPES, ErrorCode
from unmute_server.server.settings import LLM_OPTIONS, OPTIONS, LLMOption, Option
from unmute_server.voice.settings import VOICE_OPTIONS, VoiceOption


@pytest.mark.parametrize("code", list(CODES.values()), ids=list(CODES))
def test_every_diagnostic_code_is_in_the_readme_table(code: Code) -> None:
    assert f"| `{code.code}` | {code.severity.value} | {code.summary} |" in DOCUMENTATION


@pytest.mark.parametrize("placeholder", list(TEMPLATE_PLACEHOLDERS))
def test_every_template_placeholder_is_documented(placeholder: str) -> None:
    assert f"| `{{{placeholder}}}` |" in DOCUMENTATION


README = (PROJECT / "README.md").read_text(encoding="utf-8")

# Two screens of a laptop terminal: the README is the front door, the rest lives under docs/.
README_MAX_LINES = 120

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_readme_gives_the_two_setup_commands() -> None:
    assert "make run" in README
    assert "make test" in README


def test_readme_is_short_and_links_every_docs_page() -> None:
    assert len(README.splitlines()) <= README_MAX_LINES
    linked = set(LINK.findall(README))
    for page in sorted((PROJECT / "docs").glob("*.md")):
        assert f"docs/{page.name}" in linked, f"README.md does not link docs/{page.name}"


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors: set[str] = set()
    in_fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and (heading := re.match(r"#+ (.*)", line)):
            anchors.add(re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_reaches_a_file_and_heading(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        heading_missing = anchor and linked.suffix == ".md" and anchor not in _anchors(linked)
        if not linked.exists() or heading_missing:
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("option", OPTIONS, ids=[option.flag for option in OPTIONS])
def test_every_serve_option_is_in_the_configuration_table(option: Option) -> None:
    assert f"| `{option.flag}`" in DOCUMENTATION
    assert f"`{option.env}`" in DOCUMENTATION


@pytest.mark.parametrize("option", LLM_OPTIONS, ids=[option.flag for option in LLM_OPTIONS])
def test_every_llm_flag_and_variable_is_documented(option: LLMOption) -> None:
    assert f"`{option.flag}`" in DOCUMENTATION
    assert f"`{option.env}`" in DOCUMENTATION


@pytest.mark.parametrize("option", VOICE_OPTIONS, ids=[option.env for option in VOICE_OPTIONS])
def test_every_voice_flag_and_variable_is_in_the_configuration_table(option: VoiceOption) -> None:
    assert f"`{option.env}`" in DOCUMENTATION
    if option.flag is not None:
        assert f"| `{option.flag}`" in DOCUMENTATION


@pytest.mark.parametrize("code", list(ErrorCode), ids=[code.value for code in ErrorCode])
def test_every_protocol_error_code_is_documented(code: ErrorCode) -> None:
    assert f"| `{code.value}` |" in DOCUMENTATION


@pytest.mark.parametrize("event_type", CLIENT_EVENT_TYPES)
def test_every_client_event_type_has_an_example(event_type: str) -> None:
    assert f'{{"type": "{event_type}"' in DOCUMENTATION


def test_every_metric_is_documented() -> None:
    names = {family.name for family in REGISTRY.collect() if family.name.startswith("unmute_")}
    assert "unmute_events_received" in names, "the metrics module registered nothing"
    missing = [name for name in sorted(names) if f"`{name}" not in DOCUMENTATION]
    assert missing == []
