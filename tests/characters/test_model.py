"""The character records: frozen, strict, and closed to unknown fields and placeholders."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from unmute_server.characters.model import (
    INSTRUCTION_TYPES,
    TEMPLATE_PLACEHOLDERS,
    Character,
    FreesoundVoice,
    field_to_python_name,
    python_name_to_field,
    template_fields,
)
from unmute_server.characters.pack import load_pack


def _character(**overrides: Any) -> Character:
    data: dict[str, Any] = {
        "name": "Ada",
        "voice": {"source_type": "file", "path_on_server": "voices/ada.wav"},
        "instructions": {"type": "constant", "text": "You are Ada."},
    }
    data.update(overrides)
    return Character.model_validate(data)


def test_character_is_frozen() -> None:
    character = _character()
    with pytest.raises(ValidationError, match="frozen"):
        character.name = "Eve"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        character.instructions.text = "changed"  # type: ignore[misc,union-attr]


_FREESOUND_VOICE = {
    "source_type": "freesound",
    "url": "https://freesound.org/s/1/",
    "sound_instance": {"license": "CC0", "id": 1, "rating": 4.5, "explicit": False},
}

_PACKS = Path(__file__).resolve().parents[2] / "character_packs"


def _reachable(value: object) -> list[object]:
    """Every value reachable from ``value`` through model fields and container items."""
    found: list[object] = []
    stack = [value]
    while stack:
        item = stack.pop()
        found.append(item)
        if isinstance(item, BaseModel):
            stack.extend(getattr(item, name) for name in type(item).model_fields)
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, tuple | list | set):
            stack.extend(item)
    return found


def _every_character() -> list[Character]:
    characters = [_character(voice=_FREESOUND_VOICE)]
    for pack in sorted(path for path in _PACKS.iterdir() if path.is_dir()):
        characters.extend(load_pack(pack, pack.name).values())
    return characters


def test_no_mutable_container_is_reachable_from_any_character() -> None:
    """Registries share characters between sessions: nothing inside one may change in place."""
    for character in _every_character():
        for value in _reachable(character):
            assert not isinstance(value, list | dict | set | bytearray), (character.name, value)


def test_free_form_voice_table_cannot_be_changed_in_place() -> None:
    voice = _character(voice=_FREESOUND_VOICE).voice
    assert isinstance(voice, FreesoundVoice)
    table: Any = voice.sound_instance  # Any: the point is to try what the types forbid
    assert table == _FREESOUND_VOICE["sound_instance"]
    with pytest.raises(TypeError):
        table["license"] = "changed"
    with pytest.raises(TypeError):
        del table["license"]
    with pytest.raises(AttributeError):
        table.clear()
    with pytest.raises(AttributeError):
        table._items = {}
    with pytest.raises(ValidationError, match="frozen"):
        voice.sound_instance = None  # type: ignore[misc]
    assert voice.sound_instance == _FREESOUND_VOICE["sound_instance"]


def test_frozen_table_dumps_hashes_copies_and_pickles_like_the_rest() -> None:
    character = _character(voice=_FREESOUND_VOICE)
    dumped = character.model_dump()
    assert type(dumped["voice"]["sound_instance"]) is dict
    assert Character.model_validate(dumped) == character
    assert Character.model_validate_json(character.model_dump_json()) == character
    assert copy.deepcopy(character) == character
    assert pickle.loads(pickle.dumps(character)) == character  # noqa: S301 (our own bytes)
    assert hash(character) == hash(_character(voice=_FREESOUND_VOICE))


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"Extra inputs are not permitted"):
        _character(mood="happy")


def test_strict_mode_refuses_string_for_bool() -> None:
    with pytest.raises(ValidationError, match="valid boolean"):
        _character(good="yes")


def test_every_instruction_type_validates() -> None:
    for instruction_type in INSTRUCTION_TYPES:
        instructions: dict[str, Any] = {"type": instruction_type}
        if instruction_type in ("constant", "template"):
            instructions["text"] = "Hello {name}" if instruction_type == "template" else "Hi"
        assert _character(instructions=instructions).instructions.type == instruction_type


@pytest.mark.parametrize(
    "text",
    ["{nope}", "{name.__class__}", "{name[0]}", "{name!r}", "{name:>10}", "{0}", "{}"],
)
def test_template_refuses_unknown_or_non_bare_placeholders(text: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        _character(instructions={"type": "template", "text": text})


def test_template_accepts_every_documented_placeholder() -> None:
    text = " ".join(f"{{{name}}}" for name in TEMPLATE_PLACEHOLDERS) + " {{literal braces}}"
    character = _character(instructions={"type": "template", "text": text})
    assert template_fields(character.instructions.text) == list(TEMPLATE_PLACEHOLDERS)  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["", " Ada", "Ada ", "A\nB", "x" * 65])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        _character(name=name)


def test_python_field_names_map_both_ways() -> None:
    assert python_name_to_field("CHARACTER_NAME") == "name"
    assert python_name_to_field("VOICE_SOURCE") == "voice"
    assert python_name_to_field("GOOD") == "good"
    for field in Character.model_fields:
        assert python_name_to_field(field_to_python_name(field)) == field


#: Values real packs use: the bundled packs, and kyutai-labs/unmute's voices.yaml and TTS
#: voice repository (a folder per data set, any file name inside).
REAL_VOICE_PATHS = [
    "voices/nova.wav",
    "nova.wav",
    "unmute-prod-website/p329_022.wav",
    "unmute-prod-website/freesound/519189_request-42---hmm-i-dont-knowwav.mp3",
    "vctk/p225_023.wav",
    "expresso/ex04-ex02_confused_001_channel1_674s.wav",
    "cml-tts/fr/2154_2576_000020.wav",
    "voice-donations/Selfie 2 (take 3).wav",
    "voices/Développeuse.wav",
    "voices/a:b.wav",  # a colon after the first folder is no URL scheme
    "./voices/nova.wav",
]

#: Absolute, climbing, home-relative, URL, Windows-style, control characters, empty segments.
HOSTILE_VOICE_PATHS = {
    "/etc/shadow": "is absolute",
    "//server/share/x.wav": "is absolute",
    "../../x": "climbs out with '..'",
    "voices/../../etc/passwd": "climbs out with '..'",
    "voices/..": "climbs out with '..'",
    "~/voice.wav": "starts with '~'",
    "~root/.ssh/id_rsa": "starts with '~'",
    "http://evil.example/x.wav": "is a URL",
    "file:///etc/passwd": "is a URL",
    "file:x.wav": "is a URL",
    "hf+s3://bucket/x.wav": "is a URL",
    "C:/voices/x.wav": "is a URL",
    "voices\\x.wav": "holds a backslash",
    "..\\..\\x.wav": "holds a backslash",
    "voices//x.wav": "has an empty segment",
    "voices/": "has an empty segment",
    "a\x00b.wav": "holds a control or invisible character",
    "voices/\x1b[2J.wav": "holds a control or invisible character",
    "voices/x.wav\n": "holds a control or invisible character",
    "voices/\u202evaw.exe": "holds a control or invisible character",
    "voices/\x85x.wav": "holds a control or invisible character",
}


@pytest.mark.parametrize("path", REAL_VOICE_PATHS)
def test_voice_paths_that_real_packs_use_are_accepted(path: str) -> None:
    assert (
        _character(voice={"source_type": "file", "path_on_server": path}).voice.path_on_server
        == path
    )
    freesound = {
        "source_type": "freesound",
        "url": "https://freesound.org/s/1/",
        "path_on_server": path,
    }
    assert _character(voice=freesound).voice.path_on_server == path


@pytest.mark.parametrize(("path", "why"), HOSTILE_VOICE_PATHS.items())
@pytest.mark.parametrize("source_type", ["file", "freesound"])
def test_a_voice_path_that_could_leave_the_voices_folder_is_refused(
    path: str, why: str, source_type: str
) -> None:
    """The path is handed to a TTS server, which may read it as a file path or a URL."""
    voice = {"source_type": source_type, "path_on_server": path}
    if source_type == "freesound":
        voice["url"] = "https://freesound.org/s/1/"
    with pytest.raises(ValidationError) as raised:
        _character(voice=voice)
    (error,) = raised.value.errors()
    assert error["type"] == "voice_path"
    assert error["loc"] == ("voice", source_type, "path_on_server")
    assert why in error["msg"]
