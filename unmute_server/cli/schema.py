"""``unmute-server schema [--check | --write-directive FILE_OR_PACK...] [--dir schemas]``.

Writes or verifies the JSON Schema files, or points TOML character files at them.

Without ``--check`` every file in :data:`unmute_server.schemas.SCHEMA_FILES` is written (only
those whose text changed are touched). With ``--check`` nothing is written: a file that is
missing, differs from what its model generates (shown as a unified diff excerpt), or is a
``*.schema.json`` no model generates any more makes the exit code 1. Exit 0 when up to date,
2 when the folder cannot be read or written.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

from unmute_server.terminal_text import escape_controls

EXIT_OK = 0
EXIT_STALE = 1
EXIT_IO = 2

#: Lines of unified diff shown per stale file; the full diff is one ``schema`` run away.
DIFF_EXCERPT_LINES = 40


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="write the JSON Schema files, or check that they are up to date",
        description=(
            "Write every generated JSON Schema file into DIR, or with --check compare them "
            "and list stale or missing files. Exit 0 up to date (or written), 1 stale, "
            "2 I/O error."
        ),
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file is stale"
    )
    action.add_argument(
        "--write-directive",
        nargs="+",
        metavar="FILE_OR_PACK",
        help="write (or update) the first line '#:schema PATH' of each TOML character file, "
        "PATH leading from the file's folder to DIR/character.schema.json, so editors check "
        "packs kept outside this repository too",
    )
    parser.add_argument(
        "--dir",
        default="schemas",
        metavar="DIR",
        help="the schema folder (default: schemas)",
    )
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if args.write_directive:
        return write_directive([Path(target) for target in args.write_directive], folder)
    return check(folder) if args.check else write(folder)


def write_directive(targets: list[Path], folder: Path) -> int:
    """Point every TOML file ``targets`` name at ``folder``'s character schema."""
    from unmute_server.cli.schema_directive import DirectiveError, write_directives

    try:
        lines = write_directives(targets, folder)
    except DirectiveError as error:
        _error(escape_controls(str(error)))
        return EXIT_IO
    for line in lines:
        print(line)
    return EXIT_OK


def _error(message: str) -> None:
    print(f"unmute-server schema: {message}", file=sys.stderr)


def _read(path: Path) -> str | None:
    """The file's text, or ``None`` when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def write(folder: Path) -> int:
    """Write every generated file into ``folder`` (created if needed); unchanged files stay."""
    from unmute_server.schemas import generated_files  # the protocol models: only when used

    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in generated_files().items():
            path = folder / name
            if _read(path) == text:
                print(f"{path} is up to date")
                continue
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {path}")
    except (OSError, UnicodeDecodeError) as error:
        _error(f"cannot write schemas into {folder}: {error}")
        return EXIT_IO
    return EXIT_OK


def check(folder: Path) -> int:
    """Compare ``folder`` with the generated files; report every difference, write nothing."""
    if not folder.is_dir():
        _error(f"{folder} is not a folder; run `unmute-server schema` to create it")
        return EXIT_IO
    from unmute_server.schemas import generated_files  # the protocol models: only when used

    expected = generated_files()
    problems = 0
    try:
        for name, text in expected.items():
            path = folder / name
            current = _read(path)
            if current is None:
                print(f"{path}: missing; run `unmute-server schema` to write it")
                problems += 1
            elif current != text:
                print(f"{path}: stale; run `unmute-server schema` to regenerate it")
                print(_diff_excerpt(path, current, text), end="")
                problems += 1
        for path in sorted(folder.glob("*.schema.json")):
            if path.name not in expected:
                shown = escape_controls(str(path))  # a name found on disk
                print(f"{shown}: no model generates this file; delete it or register it")
                problems += 1
    except (OSError, UnicodeDecodeError) as error:
        _error(f"cannot read {folder}: {error}")
        return EXIT_IO
    if problems:
        print(f"{problems} schema file(s) out of date", file=sys.stderr)
        return EXIT_STALE
    print(f"{len(expected)} schema file(s) up to date", file=sys.stderr)
    return EXIT_OK


def _diff_excerpt(path: Path, current: str, expected: str) -> str:
    lines = list(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{path} (committed)",
            tofile=f"{path} (generated)",
        )
    )
    shown = lines[:DIFF_EXCERPT_LINES]
    if len(lines) > DIFF_EXCERPT_LINES:
        shown.append(f"... {len(lines) - DIFF_EXCERPT_LINES} more diff lines\n")
    return "".join(line if line.endswith("\n") else line + "\n" for line in shown)
