"""``unmute-server lint PATH... [--format text|json|github] [--strict]``: check character files.

Each PATH is a pack folder (every character file in it, read and checked the way the server
loads it, including pack-level checks such as duplicate names) or a single ``.py`` / ``.toml``
character file (as a pre-commit hook passes them). Diagnostic paths are PATH joined with the
file's name in the pack, so they can be clicked as printed.

Exit codes (DESIGN 7): 0 no errors (warnings alone pass unless ``--strict``), 1 problems
found, 2 usage or I/O error (a PATH that does not exist, cannot be read, or is neither a pack
folder nor a character file). When some PATHs are unusable the others are still checked.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unmute_server.characters.charfile import CHARACTER_SUFFIXES, parse_character_file
from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.limits import DEFAULT_LIMITS, LoadLimits
from unmute_server.characters.pack import PACK_PATH, build_registry, file_too_large, read_pack
from unmute_server.cli.lint_report import (
    FORMATS,
    LintSummary,
    format_github,
    format_json,
    format_text,
    summary_line,
)
from unmute_server.cli.voice_samples import missing_sample_warnings
from unmute_server.terminal_text import escape_controls

EXIT_CLEAN = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

#: Pack-level codes that mean the PATH itself could not be read: an I/O error, exit 2.
_IO_CODES = frozenset({"CHR406"})


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "lint",
        help="check character packs or files and report every problem with its position",
        description=(
            "Check each PATH, a pack folder or a single .py/.toml character file, exactly as "
            "the server would load it. Exit 0 no errors, 1 problems found, 2 usage or I/O "
            "error."
        ),
        epilog=(
            "A PATH may also be a packs root (the folder given to serve --packs-root, whose "
            "sub-folders are packs): every pack in it is checked, as "
            "`unmute-server lint packs/*` would check them one by one."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a pack folder or character file")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (path:line:col: CODE message), json, or github (workflow annotations)",
    )
    parser.add_argument("--strict", action="store_true", help="treat warnings as problems (exit 1)")
    parser.add_argument(
        "--voices-root",
        action="append",
        default=[],
        metavar="DIR",
        help="check that each file voice's sample (path_on_server) is in the pack folder or "
        "under DIR, a copy of the TTS server's voice folder; CHR410 warns when it is not "
        "(repeatable; without it samples are not checked)",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="lint again whenever a file under PATH changes, on a cleared screen, until Ctrl-C",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="with --watch: how often to look for changes (default: 0.5)",
    )
    parser.set_defaults(run=_run, parser=parser)


@dataclass(frozen=True, slots=True)
class LintResult:
    """Everything one lint run found, ready for any of the views in ``lint_report``."""

    diagnostics: tuple[Diagnostic, ...]
    summary: LintSummary
    usage_errors: tuple[str, ...]

    def exit_code(self, *, strict: bool = False) -> int:
        if self.usage_errors:
            return EXIT_USAGE
        if self.summary.errors or (strict and self.summary.warnings):
            return EXIT_PROBLEMS
        return EXIT_CLEAN


@dataclass(frozen=True, slots=True)
class TargetCheck:
    """What checking one PATH gave; ``usage_error`` when the PATH itself was unusable."""

    diagnostics: tuple[Diagnostic, ...] = ()
    files: int = 0
    characters: int = 0
    usage_error: str | None = None


def _run(args: argparse.Namespace) -> int:
    if args.watch:
        if args.format != "text":
            args.parser.error("--watch shows the text format only")
        if not args.interval > 0:
            args.parser.error("--interval must be a positive number of seconds")
        from unmute_server.cli.lint_watch import watch

        voices_roots = args.voices_root
        return watch(
            args.paths, lambda: lint_paths(args.paths, voices_roots=voices_roots), args.interval
        )
    result = lint_paths(args.paths, voices_roots=args.voices_root)
    for message in result.usage_errors:
        print(f"unmute-server lint: {escape_controls(message)}", file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(format_json(result.diagnostics, result.summary))
    elif args.format == "github":
        sys.stdout.write(format_github(result.diagnostics))
        print(summary_line(result.summary), file=sys.stderr)
    else:
        sys.stdout.write(format_text(result.diagnostics))
        print(summary_line(result.summary), file=sys.stderr)
    return result.exit_code(strict=args.strict)


def lint_paths(
    paths: Sequence[str],
    limits: LoadLimits = DEFAULT_LIMITS,
    *,
    voices_roots: Sequence[str] = (),
) -> LintResult:
    """Lint every PATH once: a folder named twice, or a file inside a folder also named, is
    checked once, so a pack's files are read and parsed a single time per run.

    With ``voices_roots``, each file voice's sample is also looked for (CHR410, see
    :mod:`unmute_server.cli.voice_samples`); a root that is not a folder is a usage error.
    """
    bad_roots = tuple(
        f"--voices-root {root} is not a folder" for root in voices_roots if not os.path.isdir(root)
    )
    if bad_roots:
        return LintResult((), LintSummary.of((), files=0, characters=0), bad_roots)
    folders: set[str] = set()  # real paths
    seen_files: set[str] = set()
    order: list[tuple[str, str]] = []  # ("pack" | "file", PATH as given)
    for shown in paths:
        path = Path(shown)
        real = os.path.realpath(shown)
        if path.is_dir():
            for pack in _packs_in(shown):
                real = os.path.realpath(pack)
                if real not in folders:
                    folders.add(real)
                    order.append(("pack", pack))
        elif real not in seen_files:
            seen_files.add(real)
            order.append(("file", shown))
    checked: list[TargetCheck] = []
    for kind, shown in order:
        if kind == "pack":
            checked.append(lint_pack(shown, limits, voices_roots))
        elif os.path.dirname(os.path.realpath(shown)) not in folders:
            checked.append(lint_file(shown, limits, voices_roots))
    diagnostics = tuple(d for one in checked for d in one.diagnostics)
    summary = LintSummary.of(
        diagnostics,
        files=sum(one.files for one in checked),
        characters=sum(one.characters for one in checked),
    )
    usage_errors = tuple(one.usage_error for one in checked if one.usage_error is not None)
    return LintResult(diagnostics, summary, usage_errors)


def shown_path(target: str, relative: str) -> str:
    """Where the user finds ``relative`` (a pack file name, or ``.`` for the pack itself)."""
    if relative == PACK_PATH:
        return target.rstrip("/\\") or target
    return os.path.join(target, relative)


def _sort_key(diagnostic: Diagnostic) -> tuple[bool, str, int, int, str]:
    return (
        diagnostic.path == PACK_PATH,
        diagnostic.path,
        diagnostic.line,
        diagnostic.col,
        diagnostic.code,
    )


def lint_pack(
    shown: str, limits: LoadLimits = DEFAULT_LIMITS, voices_roots: Sequence[str] = ()
) -> TargetCheck:
    """Read the pack once and build its registry once, as the server would."""
    folder = Path(shown)
    snapshot = read_pack(folder, limits)
    if not snapshot.files and not snapshot.diagnostics:
        return TargetCheck(usage_error=_not_a_pack(shown))
    registry = build_registry(snapshot, folder.resolve().name, limits)
    found = list(registry.diagnostics)
    if voices_roots:
        # Positions are the parser's, so the files are parsed again: only when asked.
        sites = []
        for pack_file in snapshot.files:
            result = parse_character_file(pack_file.name, pack_file.data, limits)
            if result.character is not None:
                sites.append((result.character, pack_file.name, result.positions))
        found += missing_sample_warnings(sites, shown, voices_roots)
    found.sort(key=_sort_key)
    diagnostics = tuple(
        Diagnostic(shown_path(shown, d.path), d.line, d.col, d.code, d.message) for d in found
    )
    io_error = next((d for d in diagnostics if d.code in _IO_CODES), None)
    shadowed = sum(1 for d in found if d.code == "CHR401")
    return TargetCheck(
        diagnostics,
        files=registry.total_files + shadowed,
        characters=len(registry),
        usage_error=None if io_error is None else f"cannot read {shown}: {io_error.message}",
    )


def _packs_in(shown: str) -> list[str]:
    """The packs a folder PATH names: itself, or, for a packs root, every pack in it.

    A folder that holds no character files but whose sub-folders do is a packs root
    (``character_packs``), checked as if each pack had been named (``character_packs/*/``),
    in name order; hidden sub-folders are not packs (the server refuses their names). Any
    other folder is taken as a pack, so one without character files is refused as such.
    """
    try:
        entries = sorted(os.scandir(shown), key=lambda entry: entry.name)
        if any(entry.name.endswith(CHARACTER_SUFFIXES) for entry in entries):
            return [shown]
        packs = [
            os.path.join(shown, entry.name)
            for entry in entries
            if entry.is_dir()
            and not entry.name.startswith(".")
            and any(child.name.endswith(CHARACTER_SUFFIXES) for child in os.scandir(entry.path))
        ]
    except OSError:
        return [shown]  # the pack reader reports what cannot be read
    return packs or [shown]


def _not_a_pack(shown: str) -> str:
    return f"{shown} is not a pack: it holds no .py or .toml character files"


def lint_file(
    shown: str, limits: LoadLimits = DEFAULT_LIMITS, voices_roots: Sequence[str] = ()
) -> TargetCheck:
    """Check one character file as the pack loader would, sidecar rule included."""
    path = Path(shown)
    if not path.name.endswith(CHARACTER_SUFFIXES):
        if not os.path.lexists(shown):
            return TargetCheck(usage_error=f"{shown} does not exist")
        return TargetCheck(
            usage_error=f"{shown} is neither a pack folder nor a .py or .toml character file"
        )
    if path.suffix == ".py" and path.with_suffix(".toml").is_file():
        sidecar = path.with_suffix(".toml").name
        return TargetCheck(
            (
                Diagnostic(
                    shown,
                    0,
                    0,
                    "CHR401",
                    f"{path.name} is shadowed by {sidecar} and is not read; edit {sidecar} instead",
                ),
            ),
            files=1,
        )
    try:
        data, size = _read_regular(path, limits.max_file_bytes)
    except FileNotFoundError:
        return TargetCheck(usage_error=f"{shown} does not exist")
    except OSError as error:
        return TargetCheck(usage_error=f"cannot read {shown}: {error.strerror or error}")
    if size > limits.max_file_bytes or len(data) > limits.max_file_bytes:
        # The same CHR001 as in a pack, with the size fstat gave: ``data`` stops one byte
        # past the limit, so its length is not the file's size.
        too_large = file_too_large(path.name, size, limits, grew=size <= limits.max_file_bytes)
        return TargetCheck((dataclasses.replace(too_large, path=shown),), files=1)
    result = parse_character_file(shown, data, limits)
    found = list(result.diagnostics)
    if voices_roots and result.character is not None:
        site = (result.character, shown, result.positions)
        found += missing_sample_warnings([site], os.path.dirname(shown) or ".", voices_roots)
    return TargetCheck(
        tuple(sorted(found, key=_sort_key)),
        files=1,
        characters=0 if result.character is None else 1,
    )


def _read_regular(path: Path, limit: int) -> tuple[bytes, int]:
    """A regular file's size and at most ``limit + 1`` of its bytes (enough for the size
    check): a file over the limit costs one bounded read, never its whole size.

    A FIFO or device named on the command line would block or misbehave if opened, so the
    type is checked first, and again on the open file in case the path changed meanwhile.
    """
    if not stat.S_ISREG(path.stat().st_mode):
        raise OSError(0, "not a regular file")
    with path.open("rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, "not a regular file")
        if info.st_size > limit:
            return b"", info.st_size
        return stream.read(limit + 1), info.st_size
