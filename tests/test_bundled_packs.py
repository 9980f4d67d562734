"""The packs shipped in ``character_packs/`` load cleanly and show off every feature."""

from __future__ import annotations

from pathlib import Path

import pytest

from unmute_server.characters.model import INSTRUCTION_TYPES, FileVoice
from unmute_server.characters.pack import load_pack, read_pack

PACKS = Path(__file__).parent.parent / "character_packs"
SCHEMA_LINE = "#:schema ../../schemas/character.schema.json\n"
BUNDLED = ("default", "classics", "examples")


@pytest.mark.parametrize("pack", BUNDLED)
def test_bundled_pack_loads_with_no_errors(pack: str) -> None:
    registry = load_pack(PACKS / pack, pack)
    assert registry.error_count == 0, [str(d) for d in registry.diagnostics]
    assert registry.loaded_count >= 2


def test_only_the_shadowed_legacy_example_has_a_warning() -> None:
    warnings = [
        (pack, str(diagnostic))
        for pack in BUNDLED
        for diagnostic in load_pack(PACKS / pack, pack).diagnostics
    ]
    assert warnings == [
        (
            "examples",
            "quiz_night.py:0:0: CHR401 quiz_night.py is shadowed by quiz_night.toml and is "
            "not read; edit quiz_night.toml instead",
        )
    ]


def test_every_pack_folder_is_covered_by_these_tests() -> None:
    assert sorted(path.name for path in PACKS.iterdir() if path.is_dir()) == sorted(BUNDLED)


def test_default_pack_covers_every_instruction_type() -> None:
    registry = load_pack(PACKS / "default", "default")
    assert {character.instructions.type for character in registry.values()} == set(
        INSTRUCTION_TYPES
    )


def test_default_pack_has_eight_characters_in_both_forms_and_two_good_ones() -> None:
    registry = load_pack(PACKS / "default", "default")
    snapshot = read_pack(PACKS / "default")
    suffixes = [Path(pack_file.name).suffix for pack_file in snapshot.files]
    assert len(registry) >= 8
    assert suffixes.count(".py") >= 3
    assert suffixes.count(".toml") >= 3
    assert sum(character.good for character in registry.values()) >= 2


@pytest.mark.parametrize("pack", BUNDLED)
def test_voices_are_files_under_voices(pack: str) -> None:
    for character in load_pack(PACKS / pack, pack).values():
        assert isinstance(character.voice, FileVoice), character.name
        assert character.voice.path_on_server.startswith("voices/"), character.name
        assert character.voice.path_on_server.endswith(".wav"), character.name


@pytest.mark.parametrize("toml_file", sorted(PACKS.glob("*/*.toml")), ids=lambda path: path.name)
def test_every_toml_file_points_editors_at_the_schema(toml_file: Path) -> None:
    assert toml_file.read_text(encoding="utf-8").startswith(SCHEMA_LINE)
    assert (toml_file.parent / SCHEMA_LINE.split()[1]).resolve().is_file()


def test_character_names_differ_between_default_and_classics() -> None:
    default = set(load_pack(PACKS / "default", "default"))
    classics = set(load_pack(PACKS / "classics", "classics"))
    assert not default & classics


def test_examples_pair_a_legacy_python_file_with_its_sidecar_and_a_readme() -> None:
    legacy = (PACKS / "examples" / "quiz_night.py").read_text(encoding="utf-8")
    assert "\nimport random\n" in legacy
    assert "class PromptGenerator" in legacy
    assert (PACKS / "examples" / "quiz_night.toml").is_file()
    assert "unmute-server convert" in (PACKS / "examples" / "README.md").read_text(encoding="utf-8")
