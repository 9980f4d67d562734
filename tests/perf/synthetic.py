"""Synthetic character packs for the benchmarks, written to a temporary folder.

Files look like the examples of DESIGN 3.1 and 3.2 (a docstring, the five fields, a voice
table, constant instructions with a paragraph of text), each with its own name and text so
no layer can answer from a cache keyed by content.
"""

from __future__ import annotations

from pathlib import Path

_SENTENCES = (
    "You love telling stories from history, especially about ordinary people.",
    "Answer in short sentences and ask a question back now and then.",
    "You are proud but never pompous, and you admit it when you are not sure.",
    "Stop at a moment of suspense and ask whether your listener wants more.",
)


def character_name(index: int) -> str:
    return f"Character{index:05d}"


def python_character(index: int) -> str:
    """A restricted-Python character file like DESIGN 3.1's example."""
    name = character_name(index)
    lines = "\n".join(f'        "{sentence} "' for sentence in _SENTENCES)
    return f'''"""{name}: a French general who talks about history (synthetic, #{index})."""

CHARACTER_NAME = "{name}"
GOOD = {index % 2 == 0}
COMMENT = "Voice cloned from a historical recording, number {index}."
VOICE_SOURCE = {{
    "source_type": "file",
    "path_on_server": "voices/{name.lower()}.wav",
    "description": "Archive recording {index}",
}}
INSTRUCTIONS = {{
    "type": "constant",
    "text": (
        "You are {name}, a French general. "
{lines}
        "Character number {index}."
    ),
}}
'''


def toml_character(index: int) -> str:
    """A TOML character file like DESIGN 3.2's example."""
    name = character_name(index)
    text = " ".join(_SENTENCES)
    return f'''#:schema ../../schemas/character.schema.json
name = "{name}"
good = {"true" if index % 2 == 0 else "false"}
comment = "Voice cloned from a historical recording, number {index}."

[voice]
source_type = "file"
path_on_server = "voices/{name.lower()}.wav"
description = "Archive recording {index}"

[instructions]
type = "constant"
text = """
You are {name}, a French general. {text} \\
Character number {index}."""
'''


def character_bytes(index: int, suffix: str) -> bytes:
    text = python_character(index) if suffix == ".py" else toml_character(index)
    return text.encode("utf-8")


def write_pack(folder: Path, count: int, *, first: int = 0, toml_share: float = 0.0) -> Path:
    """Write ``count`` character files into ``folder`` (created); a share of them TOML.

    File names sort in index order; with ``toml_share`` 0.5 every other file is TOML.
    """
    folder.mkdir(parents=True, exist_ok=True)
    every = round(1 / toml_share) if toml_share > 0 else 0
    for offset in range(count):
        index = first + offset
        suffix = ".toml" if every and offset % every == every - 1 else ".py"
        (folder / f"c{index:05d}{suffix}").write_bytes(character_bytes(index, suffix))
    return folder
