"""Prompt builders: exact golden prompts, seeded choices, and no hidden inputs.

The golden files in ``golden/`` are the prompts as a reviewer approved them. After an
intended change to a builder or its lists, regenerate them with
``UNMUTE_REGEN_GOLDEN=1 .venv/bin/pytest tests/characters/test_prompts.py`` and review the diff.
"""

from __future__ import annotations

import ast
import os
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from unmute_server.characters.model import (
    INSTRUCTION_TYPES,
    TEMPLATE_PLACEHOLDERS,
    Character,
)
from unmute_server.characters.prompts import (
    MAX_HEADLINES,
    SPEAKING_STYLE,
    PromptContext,
    language_name,
    language_rule,
    render_system_prompt,
    template_values,
)

GOLDEN = Path(__file__).parent / "golden"
PROMPTS_PACKAGE = Path(__file__).parents[2] / "unmute_server" / "characters" / "prompts"
REGENERATE = os.environ.get("UNMUTE_REGEN_GOLDEN") == "1"

PARIS_WINTER = timezone(timedelta(hours=1), "CET")

CONTEXT = PromptContext(
    now=datetime(2026, 11, 24, 14, 5, 30, tzinfo=PARIS_WINTER),
    timezone="Europe/Paris",
    seed=7,
    news_headlines=(
        "Night trains return between Paris and Berlin",
        "City library extends opening hours to Sunday",
        "Local bakery wins regional bread prize",
    ),
)

#: The instructions each golden file is rendered from; one entry per instruction type.
GOLDEN_INSTRUCTIONS: dict[str, dict[str, Any]] = {
    "constant": {
        "type": "constant",
        "text": "You are Odile, a lighthouse keeper who loves a good storm story.",
    },
    "smalltalk": {"type": "smalltalk"},
    "quiz_show": {"type": "quiz_show"},
    "news": {"type": "news"},
    "guess_animal": {"type": "guess_animal"},
    "unmute_explanation": {"type": "unmute_explanation", "language": "en/fr"},
    "template": {
        "type": "template",
        "language": "fr",
        "text": (
            "You are {name}, a concierge. It is {weekday} {date}, {time} ({timezone}). "
            "Greet the guest in {language_name} ({language}). Literal braces: {{ok}}."
        ),
    },
}


def character(instructions: dict[str, Any], name: str = "Odile") -> Character:
    return Character.model_validate(
        {
            "name": name,
            "voice": {"source_type": "file", "path_on_server": "voices/odile.wav"},
            "instructions": instructions,
        }
    )


def test_golden_cases_cover_every_instruction_type() -> None:
    assert set(GOLDEN_INSTRUCTIONS) == set(INSTRUCTION_TYPES)


@pytest.mark.parametrize("kind", INSTRUCTION_TYPES)
def test_prompt_matches_its_golden_file(kind: str) -> None:
    prompt = render_system_prompt(character(GOLDEN_INSTRUCTIONS[kind]), CONTEXT)
    golden = GOLDEN / f"{kind}.txt"
    if REGENERATE:
        golden.write_text(prompt + "\n", encoding="utf-8", newline="\n")
    assert golden.read_text(encoding="utf-8") == prompt + "\n"


@pytest.mark.parametrize("kind", INSTRUCTION_TYPES)
def test_every_prompt_ends_with_the_shared_speaking_rules_and_language_rule(kind: str) -> None:
    instructions = GOLDEN_INSTRUCTIONS[kind]
    prompt = render_system_prompt(character(instructions), CONTEXT)
    language = instructions.get("language", "en")
    assert prompt.endswith(f"\n\n{SPEAKING_STYLE}\n\n{language_rule(language)}")
    assert prompt.count(SPEAKING_STYLE) == 1


@pytest.mark.parametrize("kind", INSTRUCTION_TYPES)
def test_same_seed_and_context_always_give_the_same_prompt(kind: str) -> None:
    subject = character(GOLDEN_INSTRUCTIONS[kind])
    first = render_system_prompt(subject, CONTEXT)
    for _ in range(5):
        assert render_system_prompt(subject, replace(CONTEXT)) == first


@pytest.mark.parametrize(
    "kind", ["smalltalk", "quiz_show", "news", "guess_animal", "unmute_explanation"]
)
def test_a_different_seed_can_change_the_choice(kind: str) -> None:
    subject = character(GOLDEN_INSTRUCTIONS[kind])
    prompts = {render_system_prompt(subject, replace(CONTEXT, seed=seed)) for seed in range(40)}
    assert len(prompts) > 1


@pytest.mark.parametrize("kind", ["constant", "template"])
def test_builders_without_a_choice_ignore_the_seed(kind: str) -> None:
    subject = character(GOLDEN_INSTRUCTIONS[kind])
    prompts = {render_system_prompt(subject, replace(CONTEXT, seed=seed)) for seed in range(10)}
    assert len(prompts) == 1


def test_the_seed_is_not_shared_with_the_global_random_generator() -> None:
    import random

    subject = character(GOLDEN_INSTRUCTIONS["smalltalk"])
    random.seed(1)
    first = render_system_prompt(subject, CONTEXT)
    random.seed(2)
    assert render_system_prompt(subject, CONTEXT) == first


def test_template_fills_every_documented_placeholder() -> None:
    text = " | ".join(f"{{{name}}}" for name in TEMPLATE_PLACEHOLDERS)
    prompt = render_system_prompt(character({"type": "template", "text": text}), CONTEXT)
    first_paragraph = prompt.split("\n\n")[0]
    assert first_paragraph == ("Odile | en | English | 2026-11-24 | 14:05 | Tuesday | Europe/Paris")


def test_template_values_name_exactly_the_documented_placeholders() -> None:
    values = template_values(character(GOLDEN_INSTRUCTIONS["template"]), CONTEXT)
    assert set(values) == set(TEMPLATE_PLACEHOLDERS)


def test_constant_text_with_braces_is_left_as_written() -> None:
    prompt = render_system_prompt(
        character({"type": "constant", "text": "Say {hello} and {0}."}), CONTEXT
    )
    assert prompt.startswith("Say {hello} and {0}.\n\n")


def test_dates_and_times_come_from_the_context_not_the_clock() -> None:
    subject = character(GOLDEN_INSTRUCTIONS["template"])
    long_ago = replace(CONTEXT, now=datetime(1999, 12, 31, 23, 59, tzinfo=UTC), timezone="UTC")
    prompt = render_system_prompt(subject, long_ago)
    assert "It is Friday 1999-12-31, 23:59 (UTC)." in prompt


def test_smalltalk_and_news_say_what_day_it_is() -> None:
    for kind in ("smalltalk", "news"):
        prompt = render_system_prompt(character(GOLDEN_INSTRUCTIONS[kind]), CONTEXT)
        assert "It is Tuesday, 24 November 2026, 14:05 in the Europe/Paris time zone." in prompt


def test_no_builder_reads_the_clock_or_the_global_random_generator() -> None:
    """Read the source: a call to ``now()``, ``time()`` or ``random.choice`` would be a bug."""
    forbidden_calls = {"now", "today", "utcnow", "time", "time_ns", "monotonic", "localtime"}
    forbidden_random = {
        "choice",
        "choices",
        "random",
        "randint",
        "randrange",
        "shuffle",
        "sample",
        "seed",
    }
    found: list[str] = []
    for source in sorted(PROMPTS_PACKAGE.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in forbidden_calls
            ):
                found.append(f"{source.name}:{node.lineno} .{node.func.attr}()")
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "random"
                and node.attr in forbidden_random
            ):
                found.append(f"{source.name}:{node.lineno} random.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module in {"time", "random"}:
                found.append(f"{source.name}:{node.lineno} from {node.module} import")
            if isinstance(node, ast.Name) and node.id == "environ":
                found.append(f"{source.name}:{node.lineno} environ")
    assert found == []


def test_news_without_headlines_says_so_and_invents_nothing() -> None:
    prompt = render_system_prompt(
        character(GOLDEN_INSTRUCTIONS["news"]), replace(CONTEXT, news_headlines=())
    )
    assert "You have no headlines today." in prompt
    assert "- " not in prompt


def test_news_keeps_each_headline_on_one_line_and_caps_their_number() -> None:
    headlines = ("Two\n\nparagraphs  here", "   ", *(f"Item {n}" for n in range(20)))
    prompt = render_system_prompt(
        character(GOLDEN_INSTRUCTIONS["news"]), replace(CONTEXT, news_headlines=headlines)
    )
    listed = [line for line in prompt.splitlines() if line.startswith("- ")]
    assert listed[0] == "- Two paragraphs here"
    assert len(listed) == MAX_HEADLINES


def test_instructions_language_wins_over_the_session_language() -> None:
    french = character({"type": "smalltalk", "language": "fr"})
    prompt = render_system_prompt(french, replace(CONTEXT, language="de"))
    assert prompt.endswith(language_rule("fr"))
    unspecified = character({"type": "smalltalk"})
    assert render_system_prompt(unspecified, replace(CONTEXT, language="de")).endswith(
        language_rule("de")
    )


def test_language_names_cover_pairs_and_unknown_codes() -> None:
    assert language_name("fr") == "French"
    assert language_name("en/fr") == "English or French"
    assert language_name("xx") == "the language with ISO 639-1 code 'xx'"
    assert language_rule("en/fr").startswith("You speak English and French.")


def test_context_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        PromptContext(now=datetime(2026, 1, 1), timezone="UTC", seed=1)


@pytest.mark.parametrize("language", ["EN", "english", "en-fr", ""])
def test_context_refuses_a_malformed_language(language: str) -> None:
    with pytest.raises(ValueError, match="is not a code"):
        PromptContext(now=CONTEXT.now, timezone="UTC", seed=1, language=language)


def test_context_refuses_a_list_of_headlines_and_a_bool_seed() -> None:
    with pytest.raises(TypeError, match="tuple of strings"):
        PromptContext(now=CONTEXT.now, timezone="UTC", seed=1, news_headlines=["a"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        PromptContext(now=CONTEXT.now, timezone="UTC", seed=True)


def test_context_is_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        CONTEXT.seed = 3  # type: ignore[misc]


#: The built-in instruction types, which take a ``persona`` (constant and template are the
#: author's own text already).
PERSONA_TYPES = [kind for kind in INSTRUCTION_TYPES if kind not in ("constant", "template")]
PERSONA = "You are a retired sailor who loves puns and\nnever hurries anyone."


@pytest.mark.parametrize("kind", PERSONA_TYPES)
def test_persona_follows_the_opening_and_comes_before_anything_drawn_per_session(
    kind: str,
) -> None:
    """The opening and the persona are the same in every session (a prompt cache can keep
    them); the topic, theme, animal, headline and time come after them."""
    with_persona = character({"type": kind, "persona": PERSONA})
    prompts = [
        render_system_prompt(
            with_persona, replace(CONTEXT, seed=seed, now=CONTEXT.now + timedelta(hours=seed))
        )
        for seed in range(12)
    ]
    heads = {prompt[: prompt.index(PERSONA) + len(PERSONA)] for prompt in prompts}
    assert len(heads) == 1, heads
    (head,) = heads
    opening, persona = head.split("\n\n")
    assert opening.startswith("You are Odile, ")
    assert persona == PERSONA
    without = render_system_prompt(character({"type": kind}), CONTEXT)
    assert without.startswith(opening)
    assert PERSONA not in without


@pytest.mark.parametrize("kind", PERSONA_TYPES)
def test_persona_adds_only_itself_to_the_prompt(kind: str) -> None:
    with_persona = render_system_prompt(character({"type": kind, "persona": PERSONA}), CONTEXT)
    without = render_system_prompt(character({"type": kind}), CONTEXT)
    assert " ".join(with_persona.replace(PERSONA, "").split()) == " ".join(without.split())
