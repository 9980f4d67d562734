"""Each character's voice per engine: the table wins, else a stable voice derived from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from unmute_server.characters.model import Character
from unmute_server.characters.pack import load_pack
from unmute_server.characters.voices import OPENAI_VOICES, is_embedded_voice
from unmute_server.voice.choice import DERIVED_EMBEDDED_VARIANTS, voice_choice
from unmute_server.voice.tts.engine import VoiceChoice

PACKS = Path(__file__).resolve().parents[2] / "character_packs"
BUNDLED = ("default", "classics", "examples")


def character(name: str = "Ada", **fields: Any) -> Character:
    data: dict[str, Any] = {
        "name": name,
        "voice": {"source_type": "file", "path_on_server": "voices/ada.wav"},
        "instructions": {"type": "smalltalk"},
    }
    data.update(fields)
    return Character.model_validate(data)


def test_the_table_wins_on_every_engine() -> None:
    chosen = voice_choice(character(voices={"embedded": "en-gb+m4", "openai": "ballad"}))
    assert chosen == VoiceChoice(kyutai="voices/ada.wav", embedded="en-gb+m4", openai="ballad")


def test_a_variant_alone_speaks_the_characters_language() -> None:
    french = character(voices={"embedded": "+f3"}, instructions={"type": "news", "language": "fr"})
    assert voice_choice(french).embedded == "fr+f3"
    pair = character(voices={"embedded": "+m2"}, instructions={"type": "news", "language": "de/en"})
    assert voice_choice(pair).embedded == "de+m2"
    unset = character(voices={"embedded": "+m2"})
    assert voice_choice(unset).embedded == "en+m2"
    assert voice_choice(unset, default_language="es").embedded == "es+m2"


def test_without_a_table_the_voices_are_derived_in_the_characters_language() -> None:
    french = voice_choice(character(instructions={"type": "news", "language": "fr/en"}))
    language, _, variant = french.embedded.partition("+")
    assert language == "fr"
    assert variant in DERIVED_EMBEDDED_VARIANTS
    assert is_embedded_voice(french.embedded)
    assert french.openai in OPENAI_VOICES
    # Only the table's engines are taken from it; the other is derived.
    half = voice_choice(character(voices={"openai": "sage"}))
    assert half.openai == "sage"
    assert half.embedded == voice_choice(character()).embedded


def test_kyutai_uses_the_voice_path_which_a_freesound_voice_may_lack() -> None:
    freesound = character(voice={"source_type": "freesound", "url": "https://freesound.org/s/1/"})
    assert voice_choice(freesound).kyutai is None


def test_derived_voices_depend_on_the_name_and_differ_between_characters() -> None:
    names = [f"Character {number}" for number in range(40)]
    embedded = {voice_choice(character(name)).embedded for name in names}
    openai = {voice_choice(character(name)).openai for name in names}
    assert len(embedded) == len(DERIVED_EMBEDDED_VARIANTS)  # every variant gets used
    assert len(openai) == len(OPENAI_VOICES)
    assert voice_choice(character("Ada")) == voice_choice(character("Ada"))


def test_derived_voices_are_the_same_in_another_process() -> None:
    """sha256, not ``hash()``: a fresh interpreter (another hash seed) derives the same voices."""
    names = ["Ada", "Nova", "Quentin", "Old Tortoise"]
    script = (
        "import sys\n"
        "from tests.voice.test_choice import character\n"
        "from unmute_server.voice.choice import voice_choice\n"
        "for name in sys.argv[1:]:\n"
        "    chosen = voice_choice(character(name))\n"
        "    print(chosen.embedded, chosen.openai)\n"
    )
    root = Path(__file__).resolve().parents[2]
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script, *names],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            timeout=60,
        ).stdout.split("\n")[:-1]
        for seed in ("1", "2")
    ]
    here = [
        f"{voice_choice(character(name)).embedded} {voice_choice(character(name)).openai}"
        for name in names
    ]
    assert outputs == [here, here]


@pytest.mark.parametrize("pack", BUNDLED)
def test_every_bundled_character_names_its_voices(pack: str) -> None:
    for bundled in load_pack(PACKS / pack, pack).values():
        assert bundled.voices is not None, bundled.name
        assert bundled.voices.embedded is not None
        assert bundled.voices.openai is not None


def test_no_two_bundled_characters_share_an_embedded_voice() -> None:
    chosen = {
        bundled.name: voice_choice(bundled).embedded
        for pack in BUNDLED
        for bundled in load_pack(PACKS / pack, pack).values()
    }
    assert len(chosen) >= 14
    assert len(set(chosen.values())) == len(chosen), chosen


def test_no_two_default_characters_share_an_openai_voice() -> None:
    default = load_pack(PACKS / "default", "default").values()
    voices = [voice_choice(bundled).openai for bundled in default]
    assert len(set(voices)) == len(voices)


def test_the_french_storyteller_speaks_french() -> None:
    charles = load_pack(PACKS / "default", "default")["Charles"]
    assert voice_choice(charles).embedded.startswith("fr")
