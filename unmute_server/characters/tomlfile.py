"""The TOML reader: ``tomllib`` for the values, a small scanner for where they are.

``tomllib`` is the parser of record (it decides what is valid TOML), but it reports no
positions. Authors need ``path:line:col`` for validation errors too, so after a successful
parse :class:`_KeyScanner` walks the same text once more and records where each key starts.
Limits (nesting depth, string length) are checked on the parsed data, before validation sees
it; the file itself is already bounded by the file size limit, so parsing is bounded too.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime
import re
import sys
import tomllib
from collections.abc import Iterator, Mapping

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import FieldPath, Position, RawDocument, SourceSpan
from unmute_server.characters.limits import LoadLimits

#: Python 3.11's ``TOMLDecodeError`` carries its position only inside the message.
_AT_LINE_COLUMN = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")

#: What ``tomllib`` says when a one-line string meets the end of its line or of the file.
_STRING_NOT_CLOSED = frozenset(
    {"illegal character '\\n'", "illegal character '\\r'", "unterminated string"}
)

_DIGIT_RUN = re.compile(r"[+-]?\d[\d_]*")

_DATE_TYPES = (datetime.date, datetime.time)  # datetime.datetime is a date


def read_toml(path: str, text: str, limits: LoadLimits) -> RawDocument:
    """Parse ``text`` as a TOML character file; never raises on bad input.

    A syntax error keeps tomllib's line and column (``CHR200``); a document too deeply nested
    for the parser is ``CHR005``. Otherwise ``fields`` holds the parsed tables as they are (TOML
    keys are the model's field names) and ``positions`` the line and column of every key.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return RawDocument(path, {}, {}, (_syntax_error(path, text, error),))
    except (RecursionError, MemoryError):
        message = "TOML is nested too deeply to parse; flatten the tables and arrays"
        return RawDocument(path, {}, {}, (Diagnostic(path, 0, 0, "CHR005", message),))
    except (ValueError, OverflowError):
        # Valid TOML that Python will not convert: a decimal integer longer than
        # sys.get_int_max_str_digits() (tomllib calls int() on it).
        return RawDocument(path, {}, {}, (_unconvertible_number(path, text),))
    scan = _LazyScan(text)
    positions = _LazyKeyPositions(scan)
    diagnostics, unread = _limit_diagnostics(path, data, positions, limits)
    # A field over a limit is left out of validation (the limits protect it), and not also
    # reported missing; every other field is still checked in the same run.
    fields = {key: value for key, value in data.items() if key not in unread}
    return RawDocument(path, fields, positions, diagnostics, unread, _LazySources(scan))


def _syntax_error(path: str, text: str, error: tomllib.TOMLDecodeError) -> Diagnostic:
    """``CHR200`` at the error's line and column, from attributes or (3.11) the message."""
    message = str(getattr(error, "msg", None) or error)
    line = getattr(error, "lineno", None)
    col = getattr(error, "colno", None)
    found = _AT_LINE_COLUMN.search(message)
    if found is not None:
        message = message[: found.start()]
        if not isinstance(line, int) or not isinstance(col, int):
            line, col = int(found.group(1)), int(found.group(2))
    elif (at_end := _AT_END.search(message)) is not None:
        message = message[: at_end.start()]
        if not isinstance(line, int) or not isinstance(col, int):
            line, col = text.count("\n") + 1, len(text) - text.rfind("\n")
    if not isinstance(line, int) or not isinstance(col, int):
        line, col = 0, 0
    message = message.strip() or "invalid TOML"
    if message.lower() in _STRING_NOT_CLOSED:
        message = (
            "string not closed: a quoted string ends on its own line; close the quote, or "
            'use """triple quotes""" for text over several lines'
        )
    return Diagnostic(
        path, line, col, "CHR200", f"TOML syntax error: {message[0].lower()}{message[1:]}"
    )


def _unconvertible_number(path: str, text: str) -> Diagnostic:
    """``CHR200`` at the first value-like decimal digit run too long for ``int()`` (one after
    ``=``, ``[`` or ``,``, so digits inside a string are passed over), else at 1:1."""
    limit = sys.get_int_max_str_digits()
    line, col = 1, 1
    for run in _DIGIT_RUN.finditer(text):
        after = text[: run.start()].rstrip(" \t\r\n")[-1:]
        if after in ("=", "[", ",") and sum(char.isdigit() for char in run.group()) > limit:
            line = text.count("\n", 0, run.start()) + 1
            col = run.start() - (text.rfind("\n", 0, run.start()) + 1) + 1
            break
    return Diagnostic(
        path,
        line,
        col,
        "CHR200",
        f"TOML number has more than {limit} digits, more than Python reads; write it as a string",
    )


def _position(positions: Mapping[FieldPath, Position], path: FieldPath) -> Position:
    for end in range(len(path), 0, -1):
        found = positions.get(path[:end])
        if found is not None:
            return found
    return Position(1, 1)


def _dotted(path: FieldPath) -> str:
    return ".".join(str(part) for part in path)


def _limit_diagnostics(
    path: str,
    data: dict[str, object],
    positions: Mapping[FieldPath, Position],
    limits: LoadLimits,
) -> tuple[tuple[Diagnostic, ...], frozenset[str]]:
    """Depth, string length and TOML-only value types, by an iterative walk (no recursion);
    with the top-level fields that hold a problem.

    The document table is depth 0, ``[voice]`` depth 1, ``[voice.sound_instance]`` depth 2.
    One ``CHR005`` per file is enough to say what is wrong; each long string gets its own
    ``CHR006`` so every offending key is named.
    """
    found: list[Diagnostic] = []
    unread: set[str] = set()
    too_deep = False

    def report(field_path: FieldPath, code: str, message: str) -> None:
        if field_path:
            unread.add(str(field_path[0]))
        position = _position(positions, field_path)
        found.append(Diagnostic(path, position.line, position.col, code, message))

    stack: list[tuple[FieldPath, object, int]] = [((), data, 0)]
    while stack:
        field_path, value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limits.max_nesting_depth:
                unread.add(str(field_path[0]))
                if not too_deep:
                    too_deep = True
                    report(
                        field_path,
                        "CHR005",
                        f"'{_dotted(field_path)}' is nested {depth} levels deep; "
                        f"the limit is {limits.max_nesting_depth}",
                    )
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                child: FieldPath = (*field_path, key)
                if isinstance(key, str) and len(key) > limits.max_string_length:
                    report(
                        child,
                        "CHR006",
                        f"a key is {len(key)} characters long; "
                        f"the limit is {limits.max_string_length}",
                    )
                stack.append((child, item, depth + 1))
        elif isinstance(value, str):
            if len(value) > limits.max_string_length:
                report(
                    field_path,
                    "CHR006",
                    f"'{_dotted(field_path)}' is {len(value)} characters long; "
                    f"the limit is {limits.max_string_length}",
                )
        elif isinstance(value, _DATE_TYPES):
            report(
                field_path,
                "CHR301",
                f"'{_dotted(field_path)}' is a TOML date or time, which no character field "
                "takes; quote it if you mean text",
            )
    found.sort(key=lambda diagnostic: (diagnostic.line, diagnostic.col, diagnostic.code))
    return tuple(found), frozenset(unread)


_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
#: A number, boolean or date: everything up to the next separator (dates may hold a space).
_SCALAR = re.compile(r"[^,\]}#\r\n]+")


class _Container:
    """An open array or inline table while scanning a value."""

    __slots__ = ("count", "is_array", "path")

    def __init__(self, path: FieldPath, is_array: bool) -> None:
        self.path = path
        self.is_array = is_array
        self.count = 0


class _KeyScanner:
    """Records where each key of a text that ``tomllib`` has accepted starts.

    Because the text is known to be valid TOML, the scanner needs no error handling of its
    own: it follows table headers (``[a.b]``, ``[[array]]`` with element indexes), dotted and
    quoted keys, inline tables and arrays (element indexes too), and skips over every kind of
    string, so a ``key = value`` line inside a multi-line string is never taken for a key. It is
    iterative, so a deeply nested value cannot exhaust the stack.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line_starts = [0, *(found.end() for found in re.finditer("\n", text))]
        self.positions: dict[FieldPath, Position] = {}
        self.spans: dict[FieldPath, tuple[int, int]] = {}  # a scalar value's start and end
        self.array_counts: dict[FieldPath, int] = {}

    def position(self, index: int) -> Position:
        line = bisect.bisect_right(self.line_starts, index)
        return Position(line, index - self.line_starts[line - 1] + 1)

    def scan(self) -> None:
        table: FieldPath = ()
        text = self.text
        while True:
            self.skip_blank(newlines=True)
            if self.i >= len(text):
                return
            if text.startswith("[[", self.i):
                table = self.header(array=True)
            elif text[self.i] == "[":
                table = self.header(array=False)
            else:
                self.key_value(table)

    def skip_blank(self, *, newlines: bool) -> None:
        text = self.text
        while self.i < len(text):
            char = text[self.i]
            if char in " \t" or (newlines and char in "\r\n"):
                self.i += 1
            elif char == "#":
                end = text.find("\n", self.i)
                self.i = len(text) if end < 0 else end
            else:
                return

    def expect(self, token: str) -> None:
        if not self.text.startswith(token, self.i):
            raise ValueError(f"expected {token!r} at {self.i}")
        self.i += len(token)

    def keys(self) -> list[tuple[str, int]]:
        """A dotted key: each part with the index where it starts."""
        text = self.text
        parts: list[tuple[str, int]] = []
        while True:
            self.skip_blank(newlines=False)
            start = self.i
            char = text[start]
            if char == '"':
                end = self.basic_string_end(start)
                key = tomllib.loads(f"k = {text[start:end]}")["k"]
            elif char == "'":
                end = text.index("'", start + 1) + 1
                key = text[start + 1 : end - 1]
            else:
                end = start
                while end < len(text) and text[end] in _BARE_KEY_CHARS:
                    end += 1
                if end == start:
                    raise ValueError(f"no key at {start}")
                key = text[start:end]
            parts.append((key, start))
            self.i = end
            self.skip_blank(newlines=False)
            if not text.startswith(".", self.i):
                return parts
            self.i += 1

    def record(self, table: FieldPath, parts: list[tuple[str, int]]) -> FieldPath:
        """Record each prefix of ``table`` + ``parts``; the full key's position always wins."""
        path = table
        for number, (key, start) in enumerate(parts):
            path = (*path, key)
            if number == len(parts) - 1:
                self.positions[path] = self.position(start)
            else:
                self.positions.setdefault(path, self.position(start))
        return path

    def header(self, *, array: bool) -> FieldPath:
        self.i += 2 if array else 1
        parts = self.keys()
        self.expect("]]" if array else "]")
        path: FieldPath = ()
        for number, (key, start) in enumerate(parts):
            path = (*path, key)
            last = number == len(parts) - 1
            if array and last:
                index = self.array_counts.get(path, 0)
                self.array_counts[path] = index + 1
                self.positions.setdefault(path, self.position(start))
                path = (*path, index)
            elif path in self.array_counts:
                path = (*path, self.array_counts[path] - 1)
            if last:
                self.positions[path] = self.position(start)
            else:
                self.positions.setdefault(path, self.position(start))
        return path

    def key_value(self, table: FieldPath) -> None:
        path = self.record(table, self.keys())
        self.skip_blank(newlines=False)
        self.expect("=")
        self.value(path)

    def value(self, path: FieldPath) -> None:
        open_containers: list[_Container] = []
        pending: FieldPath | None = path
        text = self.text
        while True:
            if pending is not None:
                self.skip_blank(newlines=True)
                char = text[self.i]
                if char in "[{":
                    open_containers.append(_Container(pending, is_array=char == "["))
                    self.i += 1
                else:
                    start = self.i
                    self.skip_scalar()
                    self.spans[pending] = (start, self.i)
                pending = None
            if not open_containers:
                return
            top = open_containers[-1]
            self.skip_blank(newlines=True)
            char = text[self.i]
            if char == ",":
                self.i += 1
            elif char == ("]" if top.is_array else "}"):
                open_containers.pop()
                self.i += 1
            elif top.is_array:
                pending = (*top.path, top.count)
                if char in "[{":  # a scalar item's errors are reported at its array's key
                    self.positions[pending] = self.position(self.i)
                top.count += 1
            else:
                pending = self.record(top.path, self.keys())
                self.skip_blank(newlines=False)
                self.expect("=")

    def skip_scalar(self) -> None:
        text = self.text
        start = self.i
        if text.startswith('"""', start):
            self.i = self.multiline_end(start, '"""')
        elif text.startswith("'''", start):
            self.i = self.multiline_end(start, "'''")
        elif text[start] == '"':
            self.i = self.basic_string_end(start)
        elif text[start] == "'":
            self.i = text.index("'", start + 1) + 1
        else:
            found = _SCALAR.match(text, start)
            if found is None:
                raise ValueError(f"no value at {start}")
            self.i = found.end()

    def basic_string_end(self, start: int) -> int:
        """The index just after the ``"..."`` string opening at ``start``."""
        text = self.text
        index = start + 1
        while text[index] != '"':
            index += 2 if text[index] == "\\" else 1
        return index + 1

    def multiline_end(self, start: int, quotes: str) -> int:
        """The index just after a multi-line string (which may end in up to two quotes)."""
        text = self.text
        index = start + 3
        while True:
            if quotes == '"""' and text[index] == "\\":
                index += 2
            elif text.startswith(quotes, index):
                end = index + 3
                while end < len(text) and text[end] == quotes[0] and end - index < 5:
                    end += 1
                return end
            else:
                index += 1


class _LazyScan:
    """One :class:`_KeyScanner` pass over ``text``, made on the first lookup.

    Positions are only read when a diagnostic is reported, and the scan costs more than
    ``tomllib``'s own parse, so a clean file (the common case, and every cache miss of a
    reload) skips it, as the Python reader's lazy positions do.
    """

    __slots__ = ("_scanner", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._scanner: _KeyScanner | None = None

    def scanner(self) -> _KeyScanner:
        if self._scanner is None:
            self._scanner = _scanned(self._text)
        return self._scanner


class _LazyKeyPositions(Mapping[FieldPath, Position]):
    """:func:`key_positions` of the text, from the shared lazy scan."""

    __slots__ = ("_scan",)

    def __init__(self, scan: _LazyScan) -> None:
        self._scan = scan

    def _positions(self) -> dict[FieldPath, Position]:
        return self._scan.scanner().positions

    def __getitem__(self, path: FieldPath) -> Position:
        return self._positions()[path]

    def __iter__(self) -> Iterator[FieldPath]:
        return iter(self._positions())

    def __len__(self) -> int:
        return len(self._positions())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._positions()!r})"


class _LazySources(Mapping[FieldPath, SourceSpan]):
    """Each scalar value's text as written, from the shared lazy scan."""

    __slots__ = ("_scan",)

    def __init__(self, scan: _LazyScan) -> None:
        self._scan = scan

    def __getitem__(self, path: FieldPath) -> SourceSpan:
        scanner = self._scan.scanner()
        start, end = scanner.spans[path]
        return SourceSpan(scanner.position(start), scanner.text[start:end])

    def __iter__(self) -> Iterator[FieldPath]:
        return iter(self._scan.scanner().spans)

    def __len__(self) -> int:
        return len(self._scan.scanner().spans)


def _scanned(text: str) -> _KeyScanner:
    """The scanner after its pass; should some corner of TOML still surprise it, what it
    found so far is kept and later keys fall back to their table's position."""
    scanner = _KeyScanner(text)
    with contextlib.suppress(IndexError, ValueError):
        scanner.scan()
    return scanner


def key_positions(text: str) -> dict[FieldPath, Position]:
    """Where each key path of ``text`` (valid TOML) starts, as far as the scanner got."""
    return _scanned(text).positions
