"""``unmute-server convert FILE.py``: write the TOML sidecar of a Python character file.

The Python file is read as bytes and parsed, never run: a legacy file that imports modules or
defines a ``PromptGenerator`` class is exactly the kind that must not be executed. Its literal
``UPPER = value`` fields are carried over. A field whose value is code is named with the line
it is on, and the sidecar gets a ``TODO(convert)`` block in its place that quotes the code
(see :mod:`unmute_server.cli.convert_todo`): the author decides, convert never guesses.
Exit codes: 0 written, 1 cannot translate (nothing written), 2 usage or I/O error, 3 written
but review needed (a TODO to decide).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unmute_server.characters.charfile import parse_character_file
from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import RawDocument
from unmute_server.characters.limits import DEFAULT_LIMITS, LoadLimits
from unmute_server.characters.model import (
    CHARACTER_FIELDS,
    INSTRUCTION_TYPES,
    Character,
    field_to_python_name,
    python_name_to_field,
)
from unmute_server.characters.pyfile import read_python
from unmute_server.characters.tomlwrite import TomlWriteError, fields_to_toml
from unmute_server.characters.validate import validate_document
from unmute_server.cli.convert_todo import TODO_MARK, Todo, definition_sources, todo_blocks
from unmute_server.terminal_text import escape_controls

EXIT_WRITTEN = 0
EXIT_CANNOT_TRANSLATE = 1
EXIT_USAGE = 2
EXIT_REVIEW_NEEDED = 3

SCHEMA_FILE = "character.schema.json"

#: Problems with the bytes themselves: there is nothing to salvage from such a file.
_FILE_LEVEL_CODES = frozenset({"CHR001", "CHR002", "CHR005", "CHR006", "CHR007", "CHR100"})

_TABLE_FIELDS = frozenset({"voice", "instructions"})


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="write a TOML sidecar for a Python character file, without running it",
        description=(
            "Write <stem>.toml beside FILE.py from its literal fields. The Python file is "
            "parsed, never executed. A field that is code gets a TODO(convert) block to decide. "
            "Exit 0 written, 1 cannot translate (nothing written), 2 usage or I/O error, "
            "3 written but review needed."
        ),
    )
    parser.add_argument("file", metavar="FILE.py", help="the Python character file")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "-o", "--output", metavar="PATH", help="write here instead of <stem>.toml beside FILE.py"
    )
    where.add_argument("--stdout", action="store_true", help="print the TOML, write no file")
    parser.add_argument("--force", action="store_true", help="overwrite an existing sidecar")
    parser.set_defaults(run=_run)


def _error(message: str) -> None:
    print(f"unmute-server convert: {escape_controls(message)}", file=sys.stderr)


def _report(line: str) -> None:
    """One line on stderr; it quotes paths and source text, so controls are escaped."""
    print(escape_controls(line), file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    return convert(
        Path(args.file),
        output=None if args.output is None else Path(args.output),
        force=args.force,
        to_stdout=args.stdout,
    )


def convert(
    source: Path,
    *,
    output: Path | None = None,
    force: bool = False,
    to_stdout: bool = False,
    limits: LoadLimits = DEFAULT_LIMITS,
) -> int:
    """Convert ``source`` and write (or print) its sidecar; returns the exit code."""
    if source.suffix != ".py":
        _error(f"{source} is not a .py file; convert reads Python character files")
        return EXIT_USAGE
    target = output if output is not None else source.with_suffix(".toml")
    if not to_stdout:
        if _same_file(source, target):
            _error(f"{target} is the input file; choose another --output")
            return EXIT_USAGE
        if target.exists() and not force:
            _error(f"{target} already exists; pass --force to overwrite it")
            return EXIT_USAGE
    try:
        with source.open("rb") as stream:
            data = stream.read(limits.max_file_bytes + 1)
    except OSError as error:
        _error(f"cannot read {source}: {error.strerror or error}")
        return EXIT_USAGE

    shown = str(source)
    translation = _translate(shown, data, limits)
    if translation is None:
        _report(f"{shown}: not converted; nothing written")
        return EXIT_CANNOT_TRANSLATE
    fields = translation.character.model_dump(mode="json", exclude_none=True)
    for todo in translation.todos:
        fields.pop(todo.field, None)
    try:
        text = fields_to_toml(fields, _schema_reference(target))
    except TomlWriteError as error:
        _report(f"{shown}:0:0: {error.message}; write this field by hand")
        _report(f"{shown}: not converted; nothing written")
        return EXIT_CANNOT_TRANSLATE
    exit_code = EXIT_WRITTEN
    done = ""
    if translation.todos:
        text += todo_blocks(source.name, translation.todos, translation.definitions)
        exit_code = EXIT_REVIEW_NEEDED
        count = len(translation.todos)
        done = f"; review needed: {count} {TODO_MARK} block{'' if count == 1 else 's'} to decide"

    if to_stdout:
        sys.stdout.write(text)
        return exit_code
    try:
        _write(target, text, force=force)
    except FileExistsError:
        _error(f"{target} already exists; pass --force to overwrite it")
        return EXIT_USAGE
    except OSError as error:
        _error(f"cannot write {target}: {error.strerror or error}")
        return EXIT_USAGE
    print(escape_controls(f"wrote {target}{done}"))
    return exit_code


def _same_file(source: Path, target: Path) -> bool:
    try:
        return target.exists() and source.exists() and os.path.samefile(source, target)
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class _Translation:
    """What convert could read: the character, with ``todos`` naming the fields that are
    code (their values in ``character`` are stand-ins, never written)."""

    character: Character
    todos: tuple[Todo, ...] = ()
    definitions: tuple[str, ...] = ()


#: Stand-ins for required fields that are code, so the fields that could be read are
#: validated as the loader would; they are dropped before anything is written.
_STAND_INS: dict[str, object] = {
    "name": "TODO",
    "voice": {"source_type": "file", "path_on_server": "todo.wav"},
    "instructions": {"type": "constant", "text": "TODO"},
}


def _translate(shown: str, data: bytes, limits: LoadLimits) -> _Translation | None:
    """The character ``data`` defines, printing why not (and what is dropped) on stderr."""
    result = parse_character_file(shown, data, limits)
    if result.character is not None:
        return _Translation(result.character)
    if any(diagnostic.code in _FILE_LEVEL_CODES for diagnostic in result.diagnostics):
        _print_diagnostics(result.diagnostics)
        return None
    text = data.decode("utf-8").removeprefix("\ufeff")
    document = read_python(shown, text, limits)
    return _salvage(shown, text, document)


@dataclass(frozen=True, slots=True)
class _Statement:
    """One top-level statement of the Python file, as convert sees it."""

    node: ast.stmt
    field: str | None  # the model field it assigns, if it assigns one

    @property
    def lines(self) -> range:
        return range(self.node.lineno, (self.node.end_lineno or self.node.lineno) + 1)


def _salvage(shown: str, text: str, document: RawDocument) -> _Translation | None:
    """Carry over the literal fields of a legacy file, and name each field that is code."""
    try:
        module = ast.parse(text, filename=shown)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # read_python parsed this text already; should it still fail, say what the reader said.
        _print_diagnostics(document.diagnostics)
        return None
    statements = [_classify(node) for node in _body_without_docstring(module)]
    errors = [diagnostic for diagnostic in document.diagnostics if diagnostic.is_error]

    salvaged: dict[str, object] = {}
    untranslatable: list[str] = []
    todos: list[Todo] = []
    dropped: list[str] = []
    for statement in statements:
        node = statement.node
        found = [diagnostic for diagnostic in errors if diagnostic.line in statement.lines]
        if statement.field is None:
            note = f"{_where(shown, text, node)}: {_summary(text, node)}"
            hints = [d.message for d in found if "did you mean" in d.message]
            dropped.append(f"{note}; {hints[0]}" if hints else note)
            continue
        if not found and statement.field in document.fields:
            salvaged[statement.field] = document.fields[statement.field]
            continue
        untranslatable.append(_untranslatable(shown, text, statement, found))
        todos.append(_todo(text, statement))

    untranslated_fields = {s.field for s in statements if s.field and s.field not in salvaged}
    # Stand-ins let the sidecar validate; a field reported untranslatable above is not also
    # reported missing.
    stand_ins = {field: _STAND_INS[field] for field in untranslated_fields if field in _STAND_INS}
    character, diagnostics = validate_document(
        RawDocument(
            shown,
            {**salvaged, **stand_ins},
            document.positions,
            (),
            frozenset(untranslated_fields),
        )
    )
    for line in untranslatable:
        _report(line)
    _print_diagnostics(diagnostics)
    for line in dropped:
        _report(f"note: {line}")
    if character is None:
        return None
    definitions = definition_sources(text, [statement.node for statement in statements])
    return _Translation(character, tuple(todos), tuple(definitions) if todos else ())


def _todo(text: str, statement: _Statement) -> Todo:
    node = statement.node
    source = ast.get_source_segment(text, node) or _target_name(node)
    return Todo(statement.field or "", _target_name(node), node.lineno, source)


def _untranslatable(shown: str, text: str, statement: _Statement, found: list[Diagnostic]) -> str:
    """``path:line:col: INSTRUCTIONS is a call `f()`; write [instructions] by hand``."""
    node = statement.node
    name = _target_name(node)
    by_hand = _by_hand(statement.field or "")
    value = _assigned_value(node)
    culprit = _first_non_literal(value) if value is not None else None
    if culprit is not None:
        where = _where(shown, text, culprit)
        return f"{where}: {name} is {_describe(text, culprit)}; {by_hand}"
    if found:  # a literal, but the reader still refused it (assigned twice, too long...)
        first = found[0]
        return f"{shown}:{first.line}:{first.col}: {name}: {first.message}; {by_hand}"
    return f"{_where(shown, text, node)}: {name} was not read; {by_hand}"


def _where(shown: str, text: str, node: ast.stmt | ast.expr) -> str:
    """``path:line:col`` with a 1-based column in characters (``ast`` counts UTF-8 bytes)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # Python's line ends only
    line = lines[node.lineno - 1] if node.lineno <= len(lines) else ""
    col = len(line.encode("utf-8")[: node.col_offset].decode("utf-8", "replace")) + 1
    return f"{shown}:{node.lineno}:{col}"


def _body_without_docstring(module: ast.Module) -> list[ast.stmt]:
    body = list(module.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        return body[1:]
    return body


def _target_name(node: ast.stmt) -> str:
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return "?"


def _assigned_value(node: ast.stmt) -> ast.expr | None:
    if isinstance(node, ast.Assign | ast.AnnAssign):
        return node.value
    return None


def _classify(node: ast.stmt) -> _Statement:
    """Which model field a statement assigns; ``None`` for anything else (dropped)."""
    single_target = (isinstance(node, ast.Assign) and len(node.targets) == 1) or (
        isinstance(node, ast.AnnAssign) and node.value is not None
    )
    name = _target_name(node) if single_target else "?"
    field = python_name_to_field(name)
    # Only the one spelling the reader accepts (CHARACTER_NAME, not NAME) assigns a field.
    if field in CHARACTER_FIELDS and field_to_python_name(field) == name:
        return _Statement(node, field)
    return _Statement(node, None)


def _first_non_literal(node: ast.expr) -> ast.expr | None:
    """The first sub-expression that is not a literal under the restricted-Python rules."""
    pending = [node]
    while pending:
        current = pending.pop(0)
        if isinstance(current, ast.Constant) and not isinstance(current.value, bytes):
            continue
        if isinstance(current, ast.UnaryOp) and isinstance(current.op, ast.USub | ast.UAdd):
            if isinstance(current.operand, ast.Constant) and isinstance(
                current.operand.value, int | float
            ):
                continue
            return current
        if isinstance(current, ast.List | ast.Tuple):
            pending.extend(current.elts)
        elif isinstance(current, ast.Dict):
            for key, value in zip(current.keys, current.values, strict=True):
                if key is None:
                    return value  # ``**spread``
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    return key
                pending.append(value)
        else:
            return current
    return None


_KINDS: dict[type[ast.AST], str] = {
    ast.Call: "a call",
    ast.Name: "a name",
    ast.Attribute: "an attribute",
    ast.Subscript: "a subscript",
    ast.JoinedStr: "an f-string",
    ast.BinOp: "an expression",
    ast.BoolOp: "an expression",
    ast.Compare: "a comparison",
    ast.IfExp: "a conditional expression",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.GeneratorExp: "a generator",
    ast.Set: "a set",
    ast.Constant: "a bytes literal",
}


def _describe(text: str, node: ast.expr) -> str:
    kind = _KINDS.get(type(node), "an expression")
    return f"{kind} `{_snippet(text, node)}`"


def _summary(text: str, node: ast.stmt) -> str:
    """A one-line view of a dropped statement: ``import random``, ``class PromptGenerator``."""
    if isinstance(node, ast.ClassDef):
        return f"`class {node.name}` is not carried over"
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return f"`def {node.name}` is not carried over"
    return f"`{_snippet(text, node)}` is not carried over"


def _snippet(text: str, node: ast.AST, width: int = 60) -> str:
    segment = ast.get_source_segment(text, node) or type(node).__name__
    one_line = " ".join(segment.split())
    return one_line if len(one_line) <= width else one_line[: width - 3] + "..."


def _by_hand(field: str) -> str:
    if field == "instructions":
        return f"write [instructions] by hand (type = one of {', '.join(INSTRUCTION_TYPES)})"
    if field in _TABLE_FIELDS:
        return f"write [{field}] by hand"
    return f"write `{field} = ...` by hand"


def _print_diagnostics(diagnostics: tuple[Diagnostic, ...]) -> None:
    for diagnostic in diagnostics:
        print(diagnostic, file=sys.stderr)


def _schema_reference(target: Path) -> str | None:
    """The schema's path relative to ``target``'s folder, if a ``schemas/`` folder is above it."""
    folder = Path(os.path.abspath(target)).parent
    for ancestor in (folder, *folder.parents):
        schemas = ancestor / "schemas"
        if schemas.is_dir():
            return Path(os.path.relpath(schemas / SCHEMA_FILE, folder)).as_posix()
    return None


def _write(target: Path, text: str, *, force: bool) -> None:
    """Create ``target`` (never replacing a file unless ``force``), whole or not at all."""
    data = text.encode("utf-8")
    if not force:
        with target.open("xb") as stream:
            stream.write(data)
        return
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0o022)
        os.umask(umask)
        mode = 0o666 & ~umask
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, mode)  # mkstemp makes 0600; a sidecar is as readable as any file
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
