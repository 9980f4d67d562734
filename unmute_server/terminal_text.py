"""Text from disk made safe to print: a file name must not write on the terminal by itself.

A file name, and any text quoted from a file, is whatever its author chose. Printed raw, a
line feed forges a diagnostic line, a carriage return overwrites one, an escape sequence
(ESC, or the one-character C1 CSI) drives the terminal, and a bidirectional override or
isolate shows a name other than the one on disk. Every human view (lint's text and GitHub
formats, ``show``, ``convert``, ``schema``, the server's log) prints such characters as
Python-style escapes (``\\n``, ``\\x1b``, ``\\u202e``) instead, and the JSON view as JSON
``\\u`` escapes, so what is printed is visible, one line, and reads as what is on disk.

Backslashes are left alone: an escape can then be mistaken for a name that spells it out,
which misleads no terminal, while paths stay clickable as printed.
"""

from __future__ import annotations

import re

#: Every character of the Unicode categories Cc (C0 controls, DEL, C1 controls), Cf (format
#: characters: bidirectional marks, embeddings, overrides and isolates, zero-width and other
#: invisible characters), Zl and Zp (line and paragraph separators, which some readers take
#: for line breaks) and Cs (lone surrogates: how Python keeps the undecodable bytes of a file
#: name). ``tests/test_terminal_text.py`` checks the ranges against ``unicodedata``.
UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as ``surrogateescape`` keeps it
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_controls(text: str, keep: str = "") -> str:
    """``text`` with every :data:`UNSAFE` character but those in ``keep`` written as an escape.

    ``keep`` is for text whose own line breaks are meant (a prompt, a multi-line message):
    ``keep="\\n"`` lets them through and still escapes a carriage return or an ESC.
    """
    if not keep:
        return UNSAFE.sub(_escape, text)
    return UNSAFE.sub(
        lambda match: match.group() if match.group() in keep else _escape(match), text
    )


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:  # json.dumps escapes these in strings; outside them, it is its own layout
        return match.group()
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON spells a character outside the BMP as a surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def escape_json_text(document: str) -> str:
    """A JSON document from ``json.dumps(..., ensure_ascii=False)`` with every :data:`UNSAFE`
    character left in it written as a ``\\u`` escape.

    ``json.dumps`` escapes C0 controls only (so any left are its own line breaks); DEL, C1
    controls, bidirectional controls and lone surrogates pass through raw, and a lone
    surrogate cannot even be written as UTF-8. Outside its strings a JSON document is
    ASCII, so every such character is inside a string, where a ``\\u`` escape decodes to
    exactly that character.
    """
    return UNSAFE.sub(_json_escape, document)
