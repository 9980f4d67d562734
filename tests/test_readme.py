"""The README documents what the code defines: codes, placeholders, settings, events, metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import unmute_server.server.metrics  # noqa: F401  (registers the metrics this test reads)
from unmute_server.characters.diagnostics import CODES, Code
from unmute_server.characters.model import TEMPLATE_PLACEHOLDERS
from unmute_server.protocol.events import CLIENT_EVENT_TYPES, ErrorCode
from unmute_server.server.settings import LLM_OPTIONS, OPTIONS, LLMOption, Option
from unmute_server.voice.settings import VOICE_OPTIONS, VoiceOption

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("code", list(CODES.values()), ids=list(CODES))
def test_every_diagnostic_code_is_in_the_readme_table(code: Code) -> None:
    assert f"| `{code.code}` | {code.severity.value} | {code.summary} |" in README


@pytest.mark.parametrize("placeholder", list(TEMPLATE_PLACEHOLDERS))
def test_every_template_placeholder_is_documented(placeholder: str) -> None:
    assert f"| `{{{placeholder}}}` |" in README


def test_readme_gives_the_two_setup_commands() -> None:
    assert "make run" in README
    assert "make test" in README


@pytest.mark.parametrize("option", OPTIONS, ids=[option.flag for option in OPTIONS])
def test_every_serve_option_is_in_the_configuration_table(option: Option) -> None:
    assert f"| `{option.flag}`" in README
    assert f"`{option.env}`" in README


@pytest.mark.parametrize("option", LLM_OPTIONS, ids=[option.flag for option in LLM_OPTIONS])
def test_every_llm_flag_and_variable_is_documented(option: LLMOption) -> None:
    assert f"`{option.flag}`" in README
    assert f"`{option.env}`" in README


@pytest.mark.parametrize("option", VOICE_OPTIONS, ids=[option.env for option in VOICE_OPTIONS])
def test_every_voice_flag_and_variable_is_in_the_configuration_table(option: VoiceOption) -> None:
    assert f"`{option.env}`" in README
    if option.flag is not None:
        assert f"| `{option.flag}`" in README


@pytest.mark.parametrize("code", list(ErrorCode), ids=[code.value for code in ErrorCode])
def test_every_protocol_error_code_is_documented(code: ErrorCode) -> None:
    assert f"| `{code.value}` |" in README


@pytest.mark.parametrize("event_type", CLIENT_EVENT_TYPES)
def test_every_client_event_type_has_an_example(event_type: str) -> None:
    assert f'{{"type": "{event_type}"' in README


def test_every_metric_is_documented() -> None:
    names = {family.name for family in REGISTRY.collect() if family.name.startswith("unmute_")}
    assert "unmute_events_received" in names, "the metrics module registered nothing"
    missing = [name for name in sorted(names) if f"`{name}" not in README]
    assert missing == []
