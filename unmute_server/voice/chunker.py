"""Cutting the LLM's streamed text into pieces a text-to-speech engine can speak.

Speech must start before the answer is complete, so text goes to the engine as soon as it makes
a sentence, or a clause long enough to be said on its own; but not word by word, because
engines that speak chunk by chunk (espeak-ng, OpenAI's ``audio.speech``) give each chunk its own
intonation, and a sentence cut at every word sounds like a list. The first chunk of an answer is
cut earlier (at its first clause) so the first audio comes fast.

Pure: deltas in, chunks out.
"""

from __future__ import annotations

import re
from typing import Final

#: Where a sentence ends: terminal punctuation (and closing quotes or brackets) then a space.
_SENTENCE_END: Final = re.compile("[.!?\u2026]+[\"'\u201d\u2019)\\]]*\\s")
#: Where a clause ends: a comma, semicolon, colon or dash, then a space.
_CLAUSE_END: Final = re.compile("[,;:\u2014\u2013]\\s")

#: A clause is cut on its own once the chunk has this many words (fewer for the first chunk).
_CLAUSE_WORDS: Final = 12
_FIRST_CLAUSE_WORDS: Final = 3

#: Past this many characters a chunk is cut at its last space, punctuation or not.
_MAX_CHARS: Final = 400

#: Characters a speech engine would read out or stumble on (Markdown emphasis and code).
_UNSPOKEN: Final = str.maketrans({"*": None, "_": None, "`": None, "#": None})


def speakable(text: str) -> str:
    """``text`` without what a voice should not read out, spaces folded."""
    return " ".join(text.translate(_UNSPOKEN).split())


class SentenceChunker:
    """Feed the answer's deltas in order; take the chunks they complete."""

    __slots__ = ("_buffer", "_emitted")

    def __init__(self) -> None:
        self._buffer = ""
        self._emitted = 0

    def feed(self, delta: str) -> list[str]:
        """The chunks that ``delta`` completes (often none), in order, ready to speak."""
        self._buffer += delta
        chunks: list[str] = []
        while True:
            cut = self._cut_point()
            if cut is None:
                return chunks
            chunk, self._buffer = self._buffer[:cut], self._buffer[cut:]
            spoken = speakable(chunk)
            if spoken:
                chunks.append(spoken)
                self._emitted += 1

    def flush(self) -> list[str]:
        """What is left at the end of the answer, as one last chunk (or none)."""
        rest, self._buffer = self._buffer, ""
        spoken = speakable(rest)
        if not spoken:
            return []
        self._emitted += 1
        return [spoken]

    def _cut_point(self) -> int | None:
        buffer = self._buffer
        sentence = _SENTENCE_END.search(buffer)
        if sentence is not None:
            return sentence.end()
        clause_words = _FIRST_CLAUSE_WORDS if self._emitted == 0 else _CLAUSE_WORDS
        for clause in _CLAUSE_END.finditer(buffer):
            if len(buffer[: clause.end()].split()) >= clause_words:
                return clause.end()
        if len(buffer) > _MAX_CHARS:
            space = buffer.rfind(" ", 0, _MAX_CHARS)
            return space + 1 if space > 0 else _MAX_CHARS
        return None
