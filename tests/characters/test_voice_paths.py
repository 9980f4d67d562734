"""A voice path names one character in a pack: CHR409 when two share it, and the lookup."""

from __future__ import annotations

from pathlib import Path

from unmute_server.characters.model import Character
from unmute_server.characters.pack import load_pack
from unmute_server.characters.voice_paths import character_for_voice


def _toml(name: str, path: str) -> str:
    return (
        f'name = "{name}"\n'
        "good = true\n"
        'instructions = { type = "constant", text = "Hi." }\n'
        "\n"
        "[voice]\n"
        'source_type = "file"\n'
        f'path_on_server = "{path}"\n'
    )


def _pack(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "p"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.toml").write_text(text)
    return folder


def test_two_characters_sharing_a_voice_path_warn_on_the_later_one_at_its_path(
    tmp_path: Path,
) -> None:
    folder = _pack(
        tmp_path,
        a=_toml("Ann", "voices/one.wav"),
        b=_toml("Ben", "voices/one.wav"),
        c=_toml("Cy", "voices/two.wav"),
    )
    registry = load_pack(folder, "p")
    assert list(registry) == ["Ann", "Ben", "Cy"]  # a warning: all of them load
    found = [(d.path, d.line, d.col, d.code) for d in registry.diagnostics]
    assert found == [("b.toml", 7, 1, "CHR409")]
    [warning] = registry.diagnostics
    assert "'voices/one.wav' is also 'Ann''s in a.toml" in warning.message
    assert not warning.is_error


def test_distinct_voice_paths_report_nothing(tmp_path: Path) -> None:
    folder = _pack(tmp_path, a=_toml("Ann", "voices/a.wav"), b=_toml("Ben", "voices/b.wav"))
    assert load_pack(folder, "p").diagnostics == ()


def test_a_voice_is_found_by_name_first_then_by_its_one_path(tmp_path: Path) -> None:
    folder = _pack(
        tmp_path,
        a=_toml("Ann", "voices/ann.wav"),
        b=_toml("voices/ann.wav", "voices/other.wav"),  # a name that is another's path
        c=_toml("Ben", "voices/shared.wav"),
        d=_toml("Cy", "voices/shared.wav"),
    )
    registry = load_pack(folder, "p")

    def name_of(voice: str) -> str | None:
        character: Character | None = character_for_voice(registry, voice)
        return None if character is None else character.name

    assert name_of("Ann") == "Ann"
    assert name_of("voices/ann.wav") == "voices/ann.wav"  # the name wins
    assert name_of("voices/other.wav") == "voices/ann.wav"
    assert name_of("voices/shared.wav") is None  # shared (CHR409): names no one
    assert name_of("Ben") == "Ben"
    assert name_of("voices/missing.wav") is None
