"""One pure function per instruction type, and the dispatcher that picks one.

Every builder takes the character, its own instructions and a :class:`PromptContext` and
returns the whole system prompt. A builder that makes a choice draws it from
``_chooser(context)``, never from the global generator, and none reads the clock:
the same three inputs always give the same text.
"""

from __future__ import annotations

import random
from typing import assert_never

from unmute_server.characters.model import (
    Character,
    ConstantInstructions,
    GuessAnimalInstructions,
    NewsInstructions,
    QuizShowInstructions,
    SmalltalkInstructions,
    TemplateInstructions,
    UnmuteExplanationInstructions,
)
from unmute_server.characters.prompts._context import PromptContext
from unmute_server.characters.prompts._language import language_name
from unmute_server.characters.prompts._pools import (
    ANIMALS,
    QUIZ_QUESTION_COUNTS,
    QUIZ_THEMES,
    SMALLTALK_TOPICS,
    UNMUTE_OPENERS,
)
from unmute_server.characters.prompts._speaking import clock_time, compose, situation, weekday

#: Headlines beyond this many are left out: a prompt is not a news feed.
MAX_HEADLINES = 10


def _chooser(context: PromptContext) -> random.Random:
    """The only source of choices: seeded per session, so a prompt can be reproduced."""
    return random.Random(context.seed)  # noqa: S311 - variety, not secrecy


def conversation_language(instruction_language: str | None, context: PromptContext) -> str:
    """The author's choice wins over the session's: a French character stays French."""
    return instruction_language or context.language


def template_values(character: Character, context: PromptContext) -> dict[str, str]:
    """A value for every name in ``model.TEMPLATE_PLACEHOLDERS``, for ``str.format_map``."""
    language = conversation_language(character.instructions.language, context)
    return {
        "name": character.name,
        "language": language,
        "language_name": language_name(language),
        "date": context.now.date().isoformat(),
        "time": clock_time(context.now),
        "weekday": weekday(context.now),
        "timezone": context.timezone,
    }


def _introduction(opening: str, persona: str | None, drawn: str = "") -> tuple[str, ...]:
    """The opening paragraph, then the author's persona, then what was drawn for this session.

    The opening and the persona are the same in every session, so they come first (a
    prefix an LLM server can cache); without a persona the paragraph reads as it always did.
    """
    if persona is None:
        return (f"{opening} {drawn}" if drawn else opening,)
    return (opening, persona, drawn) if drawn else (opening, persona)


def constant_prompt(
    character: Character, instructions: ConstantInstructions, context: PromptContext
) -> str:
    """The author's text as written, followed by the shared speaking rules."""
    return compose(
        instructions.text, language=conversation_language(instructions.language, context)
    )


def template_prompt(
    character: Character, instructions: TemplateInstructions, context: PromptContext
) -> str:
    """The author's text with its ``{placeholders}`` filled, then the shared rules.

    Validation admits only bare names from ``TEMPLATE_PLACEHOLDERS`` and
    :func:`template_values` supplies every one of them, so filling cannot fail.
    """
    text = instructions.text.format_map(template_values(character, context))
    return compose(text, language=conversation_language(instructions.language, context))


def smalltalk_prompt(
    character: Character, instructions: SmalltalkInstructions, context: PromptContext
) -> str:
    """A relaxed chat, with one topic in reserve for when the conversation stalls."""
    topic = _chooser(context).choice(SMALLTALK_TOPICS)
    return compose(
        *_introduction(
            f"You are {character.name}, chatting with someone on a voice call. Be warm, "
            "curious and easy-going, and let them steer the conversation.",
            instructions.persona,
        ),
        situation(context.now, context.timezone),
        f"If the conversation needs a nudge, bring up this topic: {topic}. Ask about their "
        "own experience rather than giving a talk, ask one question at a time, and now and "
        "then share a short thought of your own.",
        language=conversation_language(instructions.language, context),
    )


def quiz_show_prompt(
    character: Character, instructions: QuizShowInstructions, context: PromptContext
) -> str:
    """A spoken quiz on a seeded theme; the model writes the questions itself."""
    chooser = _chooser(context)
    theme = chooser.choice(QUIZ_THEMES)
    count = chooser.choice(QUIZ_QUESTION_COUNTS)
    return compose(
        *_introduction(
            f"You are {character.name}, the host of a quiz played out loud on a voice call.",
            instructions.persona,
            f"Today's theme is {theme}.",
        ),
        f"Welcome the player, tell them the theme, and ask {count} questions, one at a time. "
        "Write the questions yourself: fair for a general audience, answerable in a few "
        "words, and a little harder as the game goes on. After each answer, say whether it "
        "is right, give the correct answer in one sentence, and keep the score. Accept an "
        "answer that sounds right even if a word seems misheard. Never give an answer away "
        "before the player has had a try.",
        "After the last question, announce the final score and offer another round on a "
        "new theme of your choice.",
        language=conversation_language(instructions.language, context),
    )


def _clean_headlines(headlines: tuple[str, ...]) -> list[str]:
    """One line per headline, so an operator's text cannot start a paragraph of its own."""
    cleaned = (" ".join(headline.split()) for headline in headlines)
    return [headline for headline in cleaned if headline][:MAX_HEADLINES]


def news_prompt(
    character: Character, instructions: NewsInstructions, context: PromptContext
) -> str:
    """Talk through the operator's headlines, or say plainly that there are none."""
    headlines = _clean_headlines(context.news_headlines)
    opening = _introduction(
        f"You are {character.name}, talking through today's news with someone on a voice call.",
        instructions.persona,
    )
    language = conversation_language(instructions.language, context)
    when = situation(context.now, context.timezone)
    if not headlines:
        return compose(
            *opening,
            when,
            "You have no headlines today. If the person asks about the news, say honestly "
            "that you have no news to share right now, and never make up events. Offer to "
            "talk about something else they care about instead.",
            language=language,
        )
    first = _chooser(context).choice(headlines)
    listed = "\n".join(f"- {headline}" for headline in headlines)
    return compose(
        *opening,
        when,
        f"These are today's headlines:\n{listed}",
        f"Start with this one: {first}",
        "Sum up a headline in a sentence or two, ask what the person thinks, and move on "
        "when they want to. You only know the headlines: if asked for details they do not "
        "give, say so, and never invent news.",
        language=language,
    )


def guess_animal_prompt(
    character: Character, instructions: GuessAnimalInstructions, context: PromptContext
) -> str:
    """A yes-or-no guessing game about a seeded animal."""
    animal = _chooser(context).choice(ANIMALS)
    return compose(
        *_introduction(
            f"You are {character.name}, playing a guessing game on a voice call.",
            instructions.persona,
            f"You have secretly chosen an animal: the {animal}. Keep it a secret.",
        ),
        "The person asks yes-or-no questions to work out which animal it is. Answer each "
        "one truthfully: yes, no, or, when neither is quite true, a few honest words. Do not "
        "say the animal's name, or a word that gives it away, until they guess it or give "
        "up. If they are stuck after about ten questions, offer a clue.",
        "When they guess right, congratulate them and offer another round, for which you "
        "choose a different animal yourself.",
        language=conversation_language(instructions.language, context),
    )


def unmute_explanation_prompt(
    character: Character, instructions: UnmuteExplanationInstructions, context: PromptContext
) -> str:
    """Explain the voice system accurately, without claiming details the prompt lacks."""
    opener = _chooser(context).choice(UNMUTE_OPENERS)
    return compose(
        *_introduction(
            f"You are {character.name}, and you explain how this voice conversation works "
            "to anyone who is curious, in plain words.",
            instructions.persona,
        ),
        "Here is what happens, so that you explain it accurately. While the person talks, a "
        "speech recognition model turns their voice into text. The text goes to a language "
        "model, which writes your replies; these instructions are its system prompt. A "
        "speech synthesis model reads each reply aloud in your voice, which was cloned from "
        "a short recording. The system notices when the person has finished speaking, and "
        "lets them interrupt you. Every character, you included, is a small file that "
        "gives a name, a voice and instructions; the server reads these files as data and "
        "never runs them as programs. Each conversation can switch to another set of "
        "characters without affecting anyone else's.",
        "Explain one step at a time and ask what they would like to hear more about. If you "
        "do not know a detail, such as which exact models are used, say so rather than "
        f"guessing. Begin by asking them this: {opener}",
        language=conversation_language(instructions.language, context),
    )


def render_system_prompt(character: Character, context: PromptContext) -> str:
    """The system prompt for ``character`` in ``context``: pure and deterministic."""
    instructions = character.instructions
    match instructions:
        case ConstantInstructions():
            return constant_prompt(character, instructions, context)
        case TemplateInstructions():
            return template_prompt(character, instructions, context)
        case SmalltalkInstructions():
            return smalltalk_prompt(character, instructions, context)
        case QuizShowInstructions():
            return quiz_show_prompt(character, instructions, context)
        case NewsInstructions():
            return news_prompt(character, instructions, context)
        case GuessAnimalInstructions():
            return guess_animal_prompt(character, instructions, context)
        case UnmuteExplanationInstructions():
            return unmute_explanation_prompt(character, instructions, context)
        case _:
            assert_never(instructions)
