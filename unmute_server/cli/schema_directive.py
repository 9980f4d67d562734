"""``unmute-server schema --write-directive FILE_OR_PACK``: point TOML files at the schema.

Taplo (behind the Even Better TOML editor extension) finds a file's schema from a first line
``#:schema PATH``, PATH relative to the file's folder. The bundled packs carry
``../../schemas/character.schema.json``; a pack kept anywhere else needs the path from its
own folder to wherever the schema files were written, which this works out. Only the
directive line is written: the rest of each file keeps its bytes and line endings.
"""

from __future__ import annotations

import os
from pathlib import Path

from unmute_server.terminal_text import escape_controls

SCHEMA_FILE = "character.schema.json"
DIRECTIVE = "#:schema "


class DirectiveError(Exception):
    """A target or the schema file cannot be used; the message says which and why."""


def directive_for(character_file: Path, schema: Path) -> str:
    """``#:schema REL`` with REL the path from ``character_file``'s folder to ``schema``."""
    folder = Path(os.path.abspath(character_file)).parent
    relative = Path(os.path.relpath(os.path.abspath(schema), folder)).as_posix()
    return DIRECTIVE + relative


def with_directive(text: str, directive: str) -> str:
    """``text`` whose first line is ``directive``: an existing ``#:schema`` line is replaced,
    otherwise the line is added, ending as the file's first line ends."""
    first, newline, rest = text.partition("\n")
    ending = "\r\n" if first.endswith("\r") else "\n"
    if first.lstrip("\ufeff").startswith(DIRECTIVE.rstrip()):
        bom = "\ufeff" if first.startswith("\ufeff") else ""
        return f"{bom}{directive}{ending}{rest}" if newline else f"{bom}{directive}{ending}"
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    return f"{bom}{directive}{ending}{text.removeprefix(bom)}"


def toml_files(target: Path) -> list[Path]:
    """The TOML character files ``target`` names: itself, or a folder's, in name order."""
    if target.is_dir():
        found = sorted(path for path in target.iterdir() if path.suffix == ".toml")
        if not found:
            raise DirectiveError(f"{target} holds no .toml character files")
        return found
    if target.suffix != ".toml":
        raise DirectiveError(f"{target} is neither a pack folder nor a .toml character file")
    if not target.is_file():
        raise DirectiveError(f"{target} does not exist")
    return [target]


def write_directives(targets: list[Path], schema_folder: Path) -> list[str]:
    """Write the directive into every TOML file ``targets`` name; one report line per file.

    Every target is checked before any file is written, so a typo in one leaves all alone.
    """
    schema = schema_folder / SCHEMA_FILE
    if not schema.is_file():
        raise DirectiveError(
            f"{schema} does not exist; write it first with "
            f"`unmute-server schema --dir {schema_folder}`"
        )
    files = [path for target in targets for path in toml_files(target)]
    lines: list[str] = []
    for path in files:
        directive = directive_for(path, schema)
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise DirectiveError(f"cannot read {path}: {error}") from None
        updated = with_directive(text, directive)
        if updated == text:
            lines.append(escape_controls(f"{path} is up to date"))
            continue
        try:
            path.write_bytes(updated.encode("utf-8"))
        except OSError as error:
            raise DirectiveError(f"cannot write {path}: {error.strerror or error}") from None
        lines.append(escape_controls(f"wrote {directive} into {path}"))
    return lines
