"""Look-alike and mixed-script names: TR39 skeletons from the Unicode confusables data."""

from __future__ import annotations

import pytest

from unmute_server.characters.confusables import (
    NameSite,
    lookalike_warnings,
    mixed_scripts,
    skeleton,
)
from unmute_server.characters.document import Position


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Nova", "N\u043eva"),  # Cyrillic o
        ("Papa", "\u0420\u0430\u0440\u0430"),  # all Cyrillic
        ("Ivy", "lvy"),  # capital I, small l
        ("l1I|", "llll"),
        ("Arno", "Amo"),  # rn, m
        ("Ana", "\u0391na"),  # Greek capital alpha
        ("cafe\u0301", "caf\u00e9"),  # NFD first: composed and decomposed are one name
        ("Ma\u0644ik", "Ma\u0644ik"),  # a right-to-left letter maps to itself
        ("Bob", "\U0001d401\U0001d428\U0001d41b"),  # mathematical bold letters
    ],
)
def test_names_that_look_alike_have_one_skeleton(one: str, other: str) -> None:
    assert skeleton(one) == skeleton(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [("Nova", "nova"), ("Ines", "In\u00e8s"), ("Pip", "Pippa"), ("Guide", "Guido")],
)
def test_names_that_differ_visibly_have_different_skeletons(one: str, other: str) -> None:
    assert skeleton(one) != skeleton(other)


def test_mixed_scripts_groups_the_letters_by_script() -> None:
    assert mixed_scripts("N\u043eva") == {"LATIN": ["N", "v", "a"], "CYRILLIC": ["\u043e"]}
    assert mixed_scripts("Nova 2.0 (beta)") == {}
    assert mixed_scripts("\u6771\u4eac\u30bf\u30ef\u30fc") == {}  # Han and Katakana
    assert set(mixed_scripts("\u6771\u4eac\u0414")) == {"HAN", "CYRILLIC"}


def test_lookalikes_are_reported_on_each_later_name_against_the_first() -> None:
    sites = [
        NameSite("Nova", "a.toml", {("name",): Position(1, 1)}),
        NameSite("N\u043eva", "b.py", {("name",): Position(2, 18)}),
        NameSite("Nov\u0430", "c.toml", {}),  # no position recorded: the file's start
    ]
    warnings = lookalike_warnings(sites)
    assert [(w.path, w.line, w.col, w.code) for w in warnings] == [
        ("b.py", 2, 18, "CHR407"),
        ("c.toml", 1, 1, "CHR407"),
    ]
    assert all("looks like 'Nova' in a.toml" in w.message for w in warnings)
    assert "U+0430 CYRILLIC SMALL LETTER A" in warnings[1].message
