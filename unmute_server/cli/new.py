"""``unmute-server new PACK NAME``: a commented character file to start from.

An author's first file should load as written and explain each field where it stands, so
the next step is editing text, not reading a reference. The file is made from the same
field names the model validates, then checked by the same parser the server uses before it
is written: ``new`` never leaves a file that does not load. Exit 0 written, 2 usage or I/O
error (a file or character of that name exists, a name the model refuses).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import unicodedata
from pathlib import Path
from typing import Any

import tomli_w

from unmute_server.characters.charfile import parse_character_file
from unmute_server.characters.model import INSTRUCTION_TYPES, Character
from unmute_server.terminal_text import escape_controls

EXIT_WRITTEN = 0
EXIT_USAGE = 2

FORMATS = ("toml", "py")
SCHEMA_FILE = "character.schema.json"

#: What each instruction type does, as the file's comment says it.
TYPE_NOTES: dict[str, str] = {
    "constant": "the text below is the system prompt, as it stands",
    "smalltalk": "casual conversation on a topic drawn for each session",
    "quiz_show": "a quiz-show host asking questions drawn for each session",
    "news": "talks about the headlines the server's operator supplies",
    "guess_animal": "a guessing game about an animal drawn for each session",
    "unmute_explanation": "explains how this voice system works",
    "template": "the text below, with {placeholders} filled in for each session",
}

TEMPLATE_SENTENCES = (
    "You are {name}. It is {weekday} {date}, {time} in {timezone}.",
    "Greet the listener and ask how their day is going.",
)


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "new",
        help="write a commented character file to start from",
        description=(
            "Write PACK/<name>.toml (or .py) for a new character NAME, every field commented; "
            "the folder is created if needed. Exit 0 written, 2 usage or I/O error."
        ),
    )
    parser.add_argument("pack", metavar="PACK", help="the pack folder")
    parser.add_argument("name", metavar="NAME", help="the character's name")
    parser.add_argument(
        "--type",
        choices=INSTRUCTION_TYPES,
        default="constant",
        help="the instruction type (default: constant)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="toml",
        help="toml (default), or py for the restricted Python form",
    )
    parser.set_defaults(run=_run)


def _error(message: str) -> int:
    print(f"unmute-server new: {escape_controls(message)}", file=sys.stderr)
    return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    return new_character(Path(args.pack), args.name, args.type, args.format)


def file_stem(name: str) -> str:
    """``Zoë O'Neil`` -> ``zoë_o_neil``: the name in lower case, runs of other characters as
    ``_`` (the pack reads any UTF-8 file name; this one is easy to type and to find)."""
    return re.sub(r"\W+", "_", name.lower()).strip("_") or "character"


def new_character(pack: Path, name: str, instruction_type: str, file_format: str) -> int:
    """Write the file; refuse rather than overwrite, shadow or duplicate anything."""
    problem = _name_problem(name)
    if problem is not None:
        return _error(f"NAME {name!r} {problem}")
    stem = file_stem(name)
    target = pack / f"{stem}.{file_format}"
    for existing in (pack / f"{stem}.toml", pack / f"{stem}.py"):
        if existing.exists():
            return _error(f"{existing} already exists; choose another NAME or edit that file")
    owner = _file_defining(pack, name)
    if owner is not None:
        return _error(f"{pack} already defines {name!r} in {owner.name}; names are unique")

    text = render(name, instruction_type, file_format, _schema_reference(pack))
    result = parse_character_file(target.name, text.encode("utf-8"))
    if result.character is None:  # cannot happen: every type and format is tested
        raise AssertionError(f"new wrote a file that does not load: {result.diagnostics}")
    try:
        pack.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
    except FileExistsError:
        return _error(f"{target} already exists; choose another NAME or edit that file")
    except OSError as error:
        return _error(f"cannot write {target}: {error.strerror or error}")
    print(escape_controls(f"wrote {target}"))
    print("next: edit it, check it, read the prompt it gives and hear its voice:")
    for command in next_commands(pack, name):
        print(escape_controls(f"  {command}"))
    return EXIT_WRITTEN


def next_commands(pack: Path, name: str) -> list[str]:
    """``lint``, ``show`` and ``say`` for the new character, as the shell takes them
    (``show`` and ``say`` name a pack under a packs root, not a folder)."""
    root = os.path.normpath(pack.parent)
    where = "" if root == "character_packs" else f"--packs-root {shlex.quote(root)} "
    character = f"{shlex.quote(pack.name)} {shlex.quote(name)}"
    return [
        f"unmute-server lint {shlex.quote(str(pack))}",
        f"unmute-server show {where}{character}",
        f"unmute-server say {where}{character} 'Hello!' -o hello.wav",
    ]


def _name_problem(name: str) -> str | None:
    """Why the model would refuse ``name``, in a phrase; ``None`` when it is fine."""
    field = Character.model_fields["name"]
    limit = next(m.max_length for m in field.metadata if getattr(m, "max_length", None))
    if not name:
        return "is empty"
    if len(name) > limit:
        return f"is longer than {limit} characters"
    if name != name.strip() or not name.isprintable():
        return "must be printable with no leading or trailing space"
    return None


def _file_defining(pack: Path, name: str) -> Path | None:
    """The character file of ``pack`` whose name is ``name``, if any (read, never run)."""
    if not pack.is_dir():
        return None
    for path in sorted(pack.iterdir()):
        if path.suffix not in {".toml", ".py"} or not path.is_file():
            continue
        try:
            result = parse_character_file(path.name, path.read_bytes())
        except OSError:
            continue
        if result.character is not None and result.character.name == name:
            return path
    return None


def _schema_reference(pack: Path) -> str | None:
    """The character schema's path from ``pack``, if a ``schemas/`` folder is above it."""
    folder = Path(os.path.abspath(pack))
    for ancestor in (folder, *folder.parents):
        schema = ancestor / "schemas" / SCHEMA_FILE
        if schema.is_file():
            return Path(os.path.relpath(schema, folder)).as_posix()
    return None


def render(name: str, instruction_type: str, file_format: str, schema: str | None) -> str:
    """The commented file for ``name``, in TOML or the restricted Python form."""
    stem = file_stem(name)
    if file_format == "toml":
        return _toml(name, instruction_type, stem, schema)
    return _python(name, instruction_type, stem)


def _toml_value(value: str) -> str:
    return tomli_w.dumps({"v": value}).removeprefix("v = ").rstrip("\n")


def _text_for(name: str, instruction_type: str) -> tuple[str, ...] | None:
    """The instruction text as sentences (one per line in the file), for types that take one."""
    if instruction_type == "constant":
        return (
            f"You are {name}, a friendly conversation partner.",
            "Say who you are in one sentence,",
            "then ask the listener what they would like to talk about.",
        )
    if instruction_type == "template":
        return TEMPLATE_SENTENCES
    return None


def _toml_text(sentences: tuple[str, ...]) -> list[str]:
    """A multi-line string, one sentence a line: easy to edit, one space between them."""
    bodies = [_toml_value(sentence).removeprefix('"').removesuffix('"') for sentence in sentences]
    return ['text = """', *(f"{body} \\" for body in bodies[:-1]), f'{bodies[-1]}"""']


def _toml(name: str, instruction_type: str, stem: str, schema: str | None) -> str:
    lines = [f"#:schema {schema}"] if schema is not None else []
    lines += [
        "# A character for unmute-server, started with `unmute-server new`. Every field is",
        "# explained where it stands; the character format is in docs/characters.md.",
        "# Check the file with `unmute-server lint PACK_FOLDER`, read its prompt with",
        "# `unmute-server show PACK NAME` and hear it with `unmute-server say PACK NAME TEXT`",
        "# (PACK: a folder under the packs root, --packs-root DIR, default character_packs).",
        "",
        "# The name sessions choose the character by; unique within the pack.",
        f"name = {_toml_value(name)}",
        "# true lists the character among the recommended ones (clients show those first).",
        "good = false",
        "# A note for people browsing the pack; the model never sees it.",
        'comment = "A new character: describe it here."',
        "",
        "[voice]",
        "# The voice Kyutai TTS clones: a sample file on the TTS server. path_on_server is",
        "# relative to the TTS server's voice folder (not to this pack), e.g. a file of",
        "# kyutai/tts-voices; lint --voices-root DIR warns when the sample is not there.",
        'source_type = "file"',
        f'path_on_server = "voices/{_ascii_stem(stem)}.wav"',
        "",
        "# The voice on the engines that ship their own (left out: one derived from the",
        "# character). Uncomment to choose:",
        "# [voices]",
        '# embedded = "en-gb+f3"  # espeak-ng: a language code and an optional +variant',
        '# openai = "coral"       # an OpenAI-compatible TTS voice name',
        "",
        "[instructions]",
        "# type picks the built-in prompt builder; this one:",
        f"#   {TYPE_NOTES[instruction_type]}.",
        f"# Other types: {', '.join(t for t in INSTRUCTION_TYPES if t != instruction_type)}.",
        f"type = {_toml_value(instruction_type)}",
    ]
    text = _text_for(name, instruction_type)
    if text is not None:
        if instruction_type == "template":
            lines.append(
                "# Placeholders: {name}, {language}, {language_name}, {date}, {time}, "
                "{weekday}, {timezone}."
            )
        lines += _toml_text(text)
    lines += [
        "# The language to answer in: an ISO 639-1 code such as fr, or a pair such as en/fr.",
        "# Left out, the server's --language applies.",
        '# language = "en"',
    ]
    return "\n".join(lines) + "\n"


def _python(name: str, instruction_type: str, stem: str) -> str:
    text = _text_for(name, instruction_type)
    instruction_lines = [
        "    # type picks the built-in prompt builder; this one:",
        f"    #   {TYPE_NOTES[instruction_type]}.",
        f"    # Other types: {', '.join(t for t in INSTRUCTION_TYPES if t != instruction_type)}.",
        f'    "type": {_python_value(instruction_type)},',
    ]
    if text is not None:
        spaced = [f"{sentence} " for sentence in text[:-1]] + [text[-1]]
        instruction_lines += [
            '    "text": (',
            *(f"        {_python_value(part)}" for part in spaced),
            "    ),",
        ]
    instruction_lines += [
        "    # The language to answer in: an ISO 639-1 code such as fr, or a pair such as",
        "    # en/fr. Left out, the server's --language applies.",
        '    # "language": "en",',
    ]
    lines = [
        f'"""{_docstring_safe(name)}: a character for unmute-server, started with `new`.',
        "",
        "This file is read, never run: only UPPER_CASE = literal lines are allowed. Check it",
        "with `unmute-server lint PACK_FOLDER`; read its prompt with",
        "`unmute-server show [--packs-root DIR] PACK NAME`.",
        '"""',
        "",
        "# The name sessions choose the character by; unique within the pack.",
        f"CHARACTER_NAME = {_python_value(name)}",
        "# True lists the character among the recommended ones (clients show those first).",
        "GOOD = False",
        "# A note for people browsing the pack; the model never sees it.",
        'COMMENT = "A new character: describe it here."',
        "# The voice Kyutai TTS clones: a sample file on the TTS server. path_on_server is",
        "# relative to the TTS server's voice folder (not to this pack).",
        "VOICE_SOURCE = {",
        '    "source_type": "file",',
        f'    "path_on_server": "voices/{_ascii_stem(stem)}.wav",',
        "}",
        "# The voice on the engines that ship their own; left out, one is derived:",
        '# VOICES = {"embedded": "en-gb+f3", "openai": "coral"}',
        "INSTRUCTIONS = {",
        *instruction_lines,
        "}",
    ]
    return "\n".join(lines) + "\n"


def _python_value(value: str) -> str:
    """A Python string literal; JSON's escapes are all Python's too, and read the same."""
    return json.dumps(value, ensure_ascii=False)


def _ascii_stem(stem: str) -> str:
    """A voice file name the voice-path rules and any TTS server take: ASCII only (``zoë``
    gives ``zoe``: accents are dropped, other letters become ``_``)."""
    plain = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_]+", "_", plain).strip("_") or "voice"


def _docstring_safe(name: str) -> str:
    """``name`` for a docstring's first line: no quote or backslash can end or bend it."""
    return re.sub(r'["\\]', "", name)
