"""The ``TODO(convert)`` comments of a sidecar that needs review.

When a field of a Python character file is code (a ``PromptGenerator`` call, an expression),
``convert`` cannot know what the character should say, and never runs the code to find out.
It writes every field it could read and, for each one it could not, a comment block that
quotes the code and shows what to write instead. A required field left out keeps the sidecar
from loading (CHR300) until the author has decided; nothing is lost without a word.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

from unmute_server.characters.model import INSTRUCTION_TYPES, Character
from unmute_server.terminal_text import escape_controls

TODO_MARK = "TODO(convert)"

#: Lines of one quoted definition; a longer one is cut, with a note.
MAX_QUOTED_LINES = 60

#: What to write instead, per field, as commented TOML.
_EXAMPLES: dict[str, tuple[str, ...]] = {
    "name": ('name = "..."',),
    "good": ("good = true",),
    "comment": ('comment = "..."',),
    "voice": ("[voice]", 'source_type = "file"', 'path_on_server = "voices/NAME.wav"'),
    "voices": ("[voices]", 'embedded = "en-gb+m4"'),
    "instructions": (
        "[instructions]",
        f'type = "constant"  # or one of {", ".join(INSTRUCTION_TYPES[1:])}',
        'text = """',
        "...",
        '"""',
    ),
}

_REQUIRED = frozenset(name for name, field in Character.model_fields.items() if field.is_required())


@dataclass(frozen=True, slots=True)
class Todo:
    """A field whose value is code: its Python name, where it is, and its source."""

    field: str
    python_name: str
    line: int
    source: str


def todo_blocks(file_name: str, todos: Sequence[Todo], definitions: Sequence[str]) -> str:
    """The comment blocks appended to the sidecar: one per field, then the quoted code."""
    blocks: list[str] = []
    for todo in todos:
        outcome = (
            f"Until it is written, this file does not load ({todo.field} is required)."
            if todo.field in _REQUIRED
            else f"Until it is written, the character loads without {todo.field}."
        )
        lines = [
            f"{TODO_MARK}: review needed. {todo.python_name} ({file_name} line {todo.line}) "
            "is code,",
            "and code is never run, so it was not carried over:",
            *(f"  {line}" for line in todo.source.splitlines()),
            "Decide what it should be and write it in place of this block, e.g.:",
            *_EXAMPLES.get(todo.field, (f"{todo.field} = ...",)),
            f"then delete this block. {outcome}",
        ]
        blocks.append(_commented(lines))
    if definitions:
        lines = [f"{TODO_MARK}: the code {file_name} defines, quoted to decide from (not run):"]
        for definition in definitions:
            lines.extend(f"  {line}" for line in _cut(definition.splitlines()))
        blocks.append(_commented(lines))
    return "\n" + "\n".join(blocks)


def definition_sources(text: str, statements: Sequence[ast.stmt]) -> list[str]:
    """The source of every class and function the file defines, in file order."""
    found: list[str] = []
    for node in statements:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            segment = ast.get_source_segment(text, node)
            if segment is not None:
                found.append(segment)
    return found


def _cut(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_QUOTED_LINES:
        return lines
    more = len(lines) - MAX_QUOTED_LINES
    return [*lines[:MAX_QUOTED_LINES], f"... {more} more lines in the Python file"]


def _commented(lines: Sequence[str]) -> str:
    """TOML comments; a comment may not hold control characters, so they are escaped."""
    return "".join(f"# {escape_controls(line)}".rstrip() + "\n" for line in lines)
