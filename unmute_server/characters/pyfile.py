"""The restricted-Python reader: a character file is parsed as data and never run.

Packs ported from the peer project are Python files, and some of them import modules or
define ``PromptGenerator`` classes: code that would run with the server's rights if the file
were imported. So the file is only ever handed to ``ast.parse`` (no code object, no ``exec``,
nothing in ``sys.modules``), and the tree is read by a whitelist: a docstring, then
``UPPER_NAME = literal`` assignments. Anything else is a positioned diagnostic, every problem
in the file is reported (in source order), and a rejected value is not looked into, so one
mistake gives one message.

The walk is one iterative pass with an explicit stack, so a deeply nested (but parseable)
literal cannot exhaust the interpreter's stack, and the nesting limit is checked before a
container is entered.
"""

from __future__ import annotations

import ast
import difflib
import re

# The parser imports ``unicodedata`` the first time a string holds a ``\N{NAME}`` escape.
# Importing it with the reader keeps the promise that loading a pack adds nothing to
# ``sys.modules``, whatever the pack's text and whichever file is read first.
import unicodedata  # noqa: F401
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import FieldPath, Position, RawDocument, SourceSpan
from unmute_server.characters.limits import LoadLimits
from unmute_server.characters.model import Character, field_to_python_name, python_name_to_field

_UPPER_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
#: Python's own line ends (``ast`` numbers lines by these, and by nothing else).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

#: The one spelling of each field in a Python file: ``CHARACTER_NAME``, not ``NAME``.
_FIELD_BY_PYTHON_NAME: dict[str, str] = {
    field_to_python_name(field): field for field in Character.model_fields
}

_SIDECAR_HINT = (
    "legacy executable character file; add a TOML sidecar with `unmute-server convert <file>`"
)
_ONLY_ASSIGNMENTS = "a character file holds only `UPPER_NAME = literal` assignments"
_ONLY_LITERALS = (
    "values must be literals (strings, numbers, True, False, None, lists, tuples, dicts)"
)

_STATEMENT_KINDS: dict[type[ast.AST], str] = {
    ast.FunctionDef: "function definition",
    ast.AsyncFunctionDef: "function definition",
    ast.ClassDef: "class definition",
    ast.Return: "return statement",
    ast.Delete: "del statement",
    ast.AugAssign: "augmented assignment",
    ast.For: "for loop",
    ast.AsyncFor: "for loop",
    ast.While: "while loop",
    ast.If: "if statement",
    ast.With: "with statement",
    ast.AsyncWith: "with statement",
    ast.Match: "match statement",
    ast.Raise: "raise statement",
    ast.Try: "try statement",
    ast.TryStar: "try statement",
    ast.Assert: "assert statement",
    ast.Global: "global statement",
    ast.Nonlocal: "nonlocal statement",
    ast.Expr: "expression statement",
    ast.Pass: "pass statement",
    ast.Break: "break statement",
    ast.Continue: "continue statement",
}

_EXPRESSION_KINDS: dict[type[ast.AST], str] = {
    ast.Name: "name",
    ast.Attribute: "attribute",
    ast.Subscript: "subscript",
    ast.Starred: "starred expression",
    ast.BinOp: "operator",
    ast.UnaryOp: "operator",
    ast.BoolOp: "boolean operator",
    ast.Compare: "comparison",
    ast.IfExp: "conditional expression",
    ast.Lambda: "lambda",
    ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression",
    ast.Set: "set literal",
    ast.NamedExpr: "assignment expression",
    ast.Await: "await expression",
    ast.Yield: "yield expression",
    ast.YieldFrom: "yield expression",
    ast.Slice: "slice",
}

#: What a unary sign may apply to (exact types: ``-True`` is refused).
_NUMBER_TYPES = (int, float)


def read_python(path: str, text: str, limits: LoadLimits) -> RawDocument:
    """Read a restricted-Python character file without running any of it; never raises.

    ``fields`` holds every field whose value was read cleanly (tuples become lists) under its
    model name; ``positions`` where each value and nested item starts (1-based, columns in
    characters); ``diagnostics`` every problem, in source order.
    """
    text = text.removeprefix("\ufeff")
    try:
        module = ast.parse(text, filename=path, mode="exec")
    except SyntaxError as error:
        line, col = _syntax_error_position(text, error)
        if error.msg == "too many nested parentheses":  # the tokenizer's own depth limit
            message = "brackets are nested too deeply to parse; flatten the value"
            return _failed(path, line, col, "CHR005", message)
        return _failed(path, line, col, "CHR100", f"syntax error: {error.msg}")
    except (RecursionError, MemoryError):
        message = "file is nested too deeply to parse; flatten the value"
        return _failed(path, 1, 1, "CHR005", message)
    except ValueError as error:  # NUL bytes or lone surrogates, depending on the version
        line, col = _error_position(text, error)
        return _failed(path, line, col, "CHR100", f"syntax error: {error}")
    reader = _Reader(path, _Source(text), limits)
    reader.read(module)
    return reader.document()


def _failed(path: str, line: int, col: int, code: str, message: str) -> RawDocument:
    diagnostic = Diagnostic(path, line, col, code, message)
    return RawDocument(path, {}, {(): Position(1, 1)}, (diagnostic,))


def _syntax_error_position(text: str, error: SyntaxError) -> tuple[int, int]:
    """For text input ``offset`` counts characters; 0 or missing means the line start."""
    if error.lineno is None:
        return _error_position(text, error)
    return error.lineno, max(error.offset or 1, 1)


def _error_position(text: str, error: Exception) -> tuple[int, int]:
    """Where a parse error without a line number lies: the offending character, or 1:1."""
    if isinstance(error, UnicodeEncodeError | UnicodeDecodeError):
        index = error.start
    else:
        index = text.find("\0")
    if index < 0:
        return 1, 1
    line_start = max(text.rfind("\n", 0, index), text.rfind("\r", 0, index)) + 1
    return len(_LINE_BREAK.findall(text, 0, index)) + 1, index - line_start + 1


class _Source:
    """The file's text, for turning ``ast`` positions into what an author's editor shows.

    ``ast`` columns count UTF-8 bytes; for ASCII text (the usual case) they already are
    characters, and otherwise only the lines actually asked about are encoded, once each.
    """

    __slots__ = ("ascii", "encoded", "lines", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()
        self.lines: list[str] | None = None
        self.encoded: dict[int, bytes] = {}

    def position(self, node: ast.expr | ast.stmt) -> Position:
        if self.ascii:
            return Position(node.lineno, node.col_offset + 1)
        line_bytes = self.line(node.lineno)[: node.col_offset]
        return Position(node.lineno, len(line_bytes.decode("utf-8", "replace")) + 1)

    def line(self, number: int) -> bytes:
        found = self.encoded.get(number)
        if found is None:
            if self.lines is None:
                self.lines = _LINE_BREAK.split(self.text)
            found = b""
            if number <= len(self.lines):
                found = self.lines[number - 1].encode("utf-8", "replace")
            self.encoded[number] = found
        return found

    def snippet(self, node: ast.expr | ast.stmt, width: int = 40) -> str:
        """The start of ``node``'s source on one line, for a message: ``os.system(...``."""
        raw = self.line(node.lineno)
        start = node.col_offset
        end = node.end_col_offset
        same_line = node.end_lineno == node.lineno and end is not None
        stop = min(end if same_line and end is not None else len(raw), start + 4 * width)
        piece = " ".join(raw[start:stop].decode("utf-8", "replace").split())
        if len(piece) > width:
            return piece[: width - 3] + "..."
        return piece if same_line else piece + " ..."


class _Positions(Mapping[FieldPath, Position]):
    """Field paths to positions, worked out only for the paths someone asks about.

    The walk records the node behind each path, which costs no allocation; validation looks
    up a handful of paths, and only when something is wrong.
    """

    __slots__ = ("nodes", "source")

    def __init__(self, nodes: dict[FieldPath, ast.expr], source: _Source) -> None:
        self.nodes = nodes
        self.source = source

    def __getitem__(self, path: FieldPath) -> Position:
        if not path:
            return Position(1, 1)
        return self.source.position(self.nodes[path])

    def __iter__(self) -> Iterator[FieldPath]:
        yield ()
        yield from self.nodes

    def __len__(self) -> int:
        return len(self.nodes) + 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)!r})"


class _Sources(Mapping[FieldPath, SourceSpan]):
    """Field paths to their values' source text, for the few paths a problem is found in."""

    __slots__ = ("nodes", "source")

    def __init__(self, nodes: dict[FieldPath, ast.expr], source: _Source) -> None:
        self.nodes = nodes
        self.source = source

    def __getitem__(self, path: FieldPath) -> SourceSpan:
        node = self.nodes[path]
        text = ast.get_source_segment(self.source.text, node)
        if text is None:
            raise KeyError(path)
        return SourceSpan(self.source.position(node), text)

    def __iter__(self) -> Iterator[FieldPath]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)


_Slot = list[object] | dict[str, object]
_Pending = tuple[ast.expr, FieldPath, int, _Slot, int | str]


class _Reader:
    """One file's walk: the tree in, fields, positions and diagnostics out."""

    __slots__ = (
        "assigned",
        "diagnostics",
        "fields",
        "limits",
        "nodes",
        "path",
        "source",
        "unread",
    )

    def __init__(self, path: str, source: _Source, limits: LoadLimits) -> None:
        self.path = path
        self.source = source
        self.limits = limits
        self.fields: dict[str, object] = {}
        self.nodes: dict[FieldPath, ast.expr] = {}
        self.diagnostics: list[Diagnostic] = []
        self.assigned: dict[str, int] = {}  # field -> line of its first assignment
        self.unread: set[str] = set()  # fields given but not read (or misspelt), reported

    def document(self) -> RawDocument:
        diagnostics = self.diagnostics
        if len(diagnostics) > 1:  # keys are checked before their values are read
            diagnostics.sort(key=lambda found: (found.line, found.col))
        positions = _Positions(self.nodes, self.source)
        sources = _Sources(self.nodes, self.source)
        return RawDocument(
            self.path,
            self.fields,
            positions,
            tuple(diagnostics),
            frozenset(self.unread),
            sources,
        )

    def report(self, node: ast.expr | ast.stmt, code: str, message: str) -> None:
        position = self.source.position(node)
        self.diagnostics.append(Diagnostic(self.path, position.line, position.col, code, message))

    # -- statements ------------------------------------------------------------------------

    def read(self, module: ast.Module) -> None:
        for index, statement in enumerate(module.body):
            if isinstance(statement, ast.Assign):
                self.assign(statement)
            elif isinstance(statement, ast.AnnAssign):
                self.annotated_assign(statement)
            elif index == 0 and isinstance(statement, ast.Expr) and _is_str(statement.value):
                continue  # the module docstring
            else:
                _STATEMENT_HANDLERS.get(type(statement), _Reader.not_allowed)(self, statement)

    def assign(self, statement: ast.Assign) -> None:
        targets = statement.targets
        if len(targets) > 1:
            chain = " = ".join(self.source.snippet(target, 20) for target in targets)
            message = f"chained assignment `{chain} = ...`; assign each field once"
            self.report(targets[1], "CHR106", message)
            return
        self.assign_field(targets[0], statement.value)

    def annotated_assign(self, statement: ast.AnnAssign) -> None:
        self.check_annotation(statement.annotation)
        if statement.value is None:
            self.report(
                statement,
                "CHR101",
                f"annotation `{self.source.snippet(statement)}` without a value sets no "
                "field; write `UPPER_NAME: type = literal`",
            )
            return
        self.assign_field(statement.target, statement.value)

    def assign_field(self, target: ast.expr, value: ast.expr) -> None:
        name = target.id if isinstance(target, ast.Name) else None
        field = _FIELD_BY_PYTHON_NAME.get(name) if name is not None else None
        if field is None:
            self.unknown_target(target, name)
            return
        first = self.assigned.get(field)
        if first is not None:
            message = f"`{name}` is assigned again; it was first assigned on line {first}"
            self.report(target, "CHR107", message)
            return
        self.assigned[field] = target.lineno
        path = (field,)
        if isinstance(value, ast.Constant) and _plain(value.value, self.limits.max_string_length):
            self.fields[field] = value.value  # the common case, without the walk's set-up
            self.nodes[path] = value
            return
        before = len(self.diagnostics)
        read = self.value(value, path)
        if len(self.diagnostics) == before:
            self.fields[field] = read
        else:
            self.unread.add(field)

    def unknown_target(self, target: ast.expr, name: str | None) -> None:
        if name is not None and _UPPER_NAME.match(name):
            meant = _meant_field(name)
            if meant is not None:
                self.unread.add(_FIELD_BY_PYTHON_NAME[meant])
                hint = f"did you mean `{meant}`?"
            else:
                hint = "the fields are " + ", ".join(
                    f"`{known}`" for known in _FIELD_BY_PYTHON_NAME
                )
            self.report(target, "CHR109", f"unknown field `{name}`; {hint}")
            return
        what = f"`{self.source.snippet(target)}`"
        message = f"assignment target {what} is not a single UPPER_CASE name"
        meant = None
        if name is not None and name.upper() in _FIELD_BY_PYTHON_NAME:
            meant = name.upper()
        elif name is not None and name in Character.model_fields:
            meant = field_to_python_name(name)
        if meant is not None:
            message += f"; did you mean `{meant}`?"
            self.unread.add(_FIELD_BY_PYTHON_NAME[meant])
        self.report(target, "CHR106", message)

    def not_allowed(self, statement: ast.stmt) -> None:
        kind = _STATEMENT_KINDS.get(type(statement), f"`{type(statement).__name__}` statement")
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            kind += f" `{statement.name}`"
        elif isinstance(statement, ast.Expr) and _is_str(statement.value):
            kind = "bare string statement (only the first statement may be a docstring)"
        self.report(statement, "CHR101", f"{kind} is not allowed; {_ONLY_ASSIGNMENTS}")

    def imported(self, statement: ast.Import | ast.ImportFrom) -> None:
        if isinstance(statement, ast.ImportFrom):
            module = "." * statement.level + (statement.module or "")
            what = f"import from `{module}`"
        else:
            what = "import of " + ", ".join(f"`{alias.name}`" for alias in statement.names)
        self.report(statement, "CHR102", f"{what}: {_SIDECAR_HINT}")

    def class_definition(self, statement: ast.ClassDef) -> None:
        bases = [_last_name(base) for base in statement.bases]
        if "PromptGenerator" in statement.name or any("PromptGenerator" in b for b in bases):
            message = f"`class {statement.name}`: {_SIDECAR_HINT}"
            self.report(statement, "CHR103", message)
            return
        self.not_allowed(statement)

    def check_annotation(self, annotation: ast.expr) -> None:
        """Plain type shapes only; an annotation is never evaluated, but it is read by people."""
        pending = [annotation]
        while pending:
            node = pending.pop()
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
                pending += (node.right, node.left)
            elif isinstance(node, ast.Attribute):
                pending.append(node.value)
            elif isinstance(node, ast.Subscript):
                pending += (node.slice, node.value)
            elif isinstance(node, ast.Tuple | ast.List):
                pending.extend(reversed(node.elts))
            elif not isinstance(node, ast.Name | ast.Constant):
                self.report(
                    node,
                    "CHR104",
                    f"`{self.source.snippet(node)}` is not allowed in an annotation; "
                    "write a plain type such as `str` or `dict[str, str]`",
                )

    # -- values ----------------------------------------------------------------------------

    def value(self, root: ast.expr, root_path: FieldPath) -> object:
        """Read one field's value in one pass over an explicit stack.

        Each pending entry carries the slot its value goes into (a pre-sized list or a dict,
        with its index or key), so containers are built as they are checked. Children are
        pushed in reverse, so they are read (and diagnosed) in source order.
        """
        nodes = self.nodes
        max_depth = self.limits.max_nesting_depth
        max_length = self.limits.max_string_length
        holder: list[object] = [None]
        pending: list[_Pending] = [(root, root_path, 1, holder, 0)]
        while pending:
            node, path, depth, slot, key = pending.pop()
            value: object
            if isinstance(node, ast.Constant):
                value = constant = node.value
                if type(constant) is str:
                    if len(constant) > max_length or not (constant.isascii() or _is_text(constant)):
                        self.bad_string(node, constant)
                        continue
                elif type(constant) not in _SCALAR_TYPES:
                    self.not_literal(node)
                    continue
            elif isinstance(node, ast.Dict):
                if depth > max_depth:
                    self.too_deep(node, depth)
                    continue
                value = self.dict_entries(node, path, depth, pending)
            elif isinstance(node, _SEQUENCE_TYPES):
                if depth > max_depth:
                    self.too_deep(node, depth)
                    continue
                value = self.list_items(node, path, depth, pending)
            elif isinstance(node, ast.UnaryOp) and (number := _signed_number(node)) is not None:
                value = number
            else:
                self.not_literal(node)
                continue
            slot[key] = value  # type: ignore[index]
            nodes[path] = node
        return holder[0]

    def dict_entries(
        self, node: ast.Dict, path: FieldPath, depth: int, pending: list[_Pending]
    ) -> dict[str, object]:
        """Check the keys now and read plain values; queue the rest, skip those of bad keys."""
        result: dict[str, object] = {}
        entries: list[_Pending] = []
        nodes = self.nodes
        max_length = self.limits.max_string_length
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            key = key_node.value if isinstance(key_node, ast.Constant) else None
            if (
                not isinstance(key, str)
                or key in result
                or len(key) > max_length
                or not (key.isascii() or _is_text(key))
            ):
                self.bad_key(node, key_node, value_node)
                continue
            if isinstance(value_node, ast.Constant) and _plain(value_node.value, max_length):
                result[key] = value_node.value
                nodes[(*path, key)] = value_node
            else:
                result[key] = None  # holds the key's place in source order until it is read
                entries.append((value_node, (*path, key), depth + 1, result, key))
        entries.reverse()
        pending += entries
        return result

    def list_items(
        self, node: ast.List | ast.Tuple, path: FieldPath, depth: int, pending: list[_Pending]
    ) -> list[object]:
        """Read plain items now and queue the rest (a tuple is read as a list)."""
        elements = node.elts
        items: list[object] = [None] * len(elements)
        entries: list[_Pending] = []
        nodes = self.nodes
        max_length = self.limits.max_string_length
        for index, element in enumerate(elements):
            if isinstance(element, ast.Constant) and _plain(element.value, max_length):
                items[index] = element.value
                nodes[(*path, index)] = element
            else:
                entries.append((element, (*path, index), depth + 1, items, index))
        entries.reverse()
        pending += entries
        return items

    def bad_key(self, node: ast.Dict, key_node: ast.expr | None, value_node: ast.expr) -> None:
        if key_node is None:
            snippet = self.source.snippet(value_node)
            message = f"dictionary unpacking `**{snippet}` is not allowed; write the keys out"
            self.report(value_node, "CHR108", message)
            return
        key = key_node.value if isinstance(key_node, ast.Constant) else None
        if not isinstance(key, str):
            snippet = self.source.snippet(key_node)
            self.report(key_node, "CHR108", f"dictionary key `{snippet}` is not a string literal")
        elif len(key) > self.limits.max_string_length or not _is_text(key):
            self.bad_string(key_node, key)
        else:
            first = next(
                earlier.lineno
                for earlier in node.keys
                if isinstance(earlier, ast.Constant) and earlier.value == key
            )
            message = f"key {_quoted(key)} appears twice; it was first given on line {first}"
            self.report(key_node, "CHR107", message)

    def not_literal(self, node: ast.expr) -> None:
        snippet = self.source.snippet(node)
        if isinstance(node, ast.JoinedStr):
            message = (
                f"f-string `{snippet}` is not allowed; use instructions of type `template` "
                "with {placeholders}"
            )
            self.report(node, "CHR105", message)
            return
        if isinstance(node, ast.Call):
            what = f"function call `{self.source.snippet(node.func)}(...)`"
        elif isinstance(node, ast.Constant):
            what = f"{_constant_kind(node.value)} `{snippet}`"
        else:
            what = f"{_EXPRESSION_KINDS.get(type(node), 'expression')} `{snippet}`"
        self.report(node, "CHR104", f"{what} is not allowed; {_ONLY_LITERALS}")

    def bad_string(self, node: ast.expr, value: str) -> None:
        limit = self.limits.max_string_length
        if len(value) > limit:
            message = f"string is {len(value)} characters long; the limit is {limit}"
            self.report(node, "CHR006", message)
        else:
            message = "string holds a lone surrogate escape (such as `\\ud800`), which is not text"
            self.report(node, "CHR110", message)

    def too_deep(self, node: ast.expr, depth: int) -> None:
        limit = self.limits.max_nesting_depth
        message = f"value is nested {depth} levels deep; the limit is {limit}"
        self.report(node, "CHR005", message)


_STATEMENT_HANDLERS: dict[type[ast.AST], Callable[[_Reader, Any], None]] = {
    ast.Import: _Reader.imported,
    ast.ImportFrom: _Reader.imported,
    ast.ClassDef: _Reader.class_definition,
}

_SCALAR_TYPES = frozenset({int, float, bool, type(None)})
_SEQUENCE_TYPES = (ast.List, ast.Tuple)  # a tuple, not ``X | Y``, which is rebuilt on each use


def _is_str(node: ast.expr) -> bool:
    return type(node) is ast.Constant and type(node.value) is str


def _plain(value: object, max_length: int) -> bool:
    """A scalar that needs no diagnostic (the common case), so it is read without queuing."""
    if isinstance(value, str):
        return len(value) <= max_length and (value.isascii() or _is_text(value))
    return type(value) in _SCALAR_TYPES


def _is_text(value: str) -> bool:
    """Whether ``value`` is encodable text: an escape like ``\\ud800`` makes a str that is not."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _signed_number(node: ast.UnaryOp) -> int | float | None:
    """``-1`` or ``+2.5``; ``None`` for anything else (``-True``, ``--1``, ``not 1``)."""
    operand = node.operand
    if type(operand) is not ast.Constant or type(operand.value) not in _NUMBER_TYPES:
        return None
    number = operand.value
    if isinstance(node.op, ast.USub) and isinstance(number, int | float):
        return -number
    if isinstance(node.op, ast.UAdd) and isinstance(number, int | float):
        return number
    return None


def _constant_kind(value: object) -> str:
    if isinstance(value, bytes):
        return "bytes literal"
    if isinstance(value, complex):
        return "complex number"
    if value is Ellipsis:
        return "Ellipsis"
    return type(value).__name__


def _last_name(node: ast.expr) -> str:
    """``PromptGenerator`` for ``base.PromptGenerator`` or ``PromptGenerator[X]``."""
    while isinstance(node, ast.Subscript | ast.Call):
        node = node.value if isinstance(node, ast.Subscript) else node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _meant_field(name: str) -> str | None:
    """The field spelling ``name`` most likely meant (``NAME`` -> ``CHARACTER_NAME``)."""
    alias = python_name_to_field(name)
    if alias in Character.model_fields:
        return field_to_python_name(alias)
    close = difflib.get_close_matches(name, list(_FIELD_BY_PYTHON_NAME), n=1)
    return close[0] if close else None


def _quoted(key: str) -> str:
    shown = key if len(key) <= 40 else key[:37] + "..."
    return repr(shown)
