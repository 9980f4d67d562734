"""The lists builders draw from with the session's seed.

Reordering or editing a list changes which item a seed picks, and so the golden prompts in
``tests/characters/golden/``; regenerate them on purpose (see "Golden prompts" in
docs/development.md).
"""

from __future__ import annotations

SMALLTALK_TOPICS: tuple[str, ...] = (
    "a meal they still remember",
    "the last thing that made them laugh",
    "a place they would like to see one day",
    "a skill they would like to learn",
    "their favourite season and why",
    "a book, film or song they keep coming back to",
    "how they like to spend a free morning",
    "something small that made their week better",
    "an object they have kept for many years",
    "the best piece of advice they were ever given",
    "a game they loved as a child",
    "what they would cook for a table of friends",
    "a hobby they picked up recently",
    "the view from their window",
    "a tradition in their family or town",
    "an everyday invention they could not do without",
    "the sounds of the place where they live",
    "someone who taught them something important",
)

QUIZ_THEMES: tuple[str, ...] = (
    "the solar system",
    "famous bridges and towers",
    "the animal kingdom",
    "inventions that changed daily life",
    "rivers, lakes and seas",
    "musical instruments",
    "food from around the world",
    "the human body",
    "sports and games",
    "words and where they come from",
    "mountains and volcanoes",
    "trains, ships and aircraft",
)

QUIZ_QUESTION_COUNTS: tuple[str, ...] = ("five", "six", "seven")

ANIMALS: tuple[str, ...] = (
    "octopus",
    "hedgehog",
    "giraffe",
    "penguin",
    "honeybee",
    "bat",
    "chameleon",
    "seahorse",
    "kangaroo",
    "owl",
    "beaver",
    "flamingo",
    "tortoise",
    "dolphin",
    "ant",
    "polar bear",
)

UNMUTE_OPENERS: tuple[str, ...] = (
    "have they ever wondered how a computer can answer out loud almost at once?",
    "would they like to hear what happens between their voice and your reply?",
    "did they notice that they can interrupt you, and do they want to know how that works?",
    "would they like to know how your voice was made?",
)
