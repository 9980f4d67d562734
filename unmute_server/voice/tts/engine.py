"""What the voice pipeline needs from a text-to-speech engine.

One :class:`Synthesis` per answer: the pipeline sends the answer's text in chunks as the LLM
produces them (sentences or clauses), says when the text ends, and reads audio until the engine
is done. Barge-in is :meth:`Synthesis.aclose`, which stops the engine at once. The engine decides
how to get there: one subprocess per chunk (embedded), one WebSocket per answer (Kyutai), one
streamed HTTP request per chunk (OpenAI).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from unmute_server.voice.audio import Pcm


@dataclass(frozen=True, slots=True)
class VoiceChoice:
    """Which voice to speak with, as each engine names it, already chosen for one character.

    ``kyutai`` is the character's ``voice.path_on_server``; ``embedded`` an espeak-ng voice
    (for example ``en+f3``); ``openai`` a voice name (for example ``alloy``). See
    :mod:`unmute_server.characters.voices` for how a character's choice is made.
    """

    kyutai: str | None
    embedded: str
    openai: str


@dataclass(frozen=True, slots=True)
class SpokenAudio:
    """A piece of the answer's audio, and the text chunk it belongs to (for barge-in: the
    history keeps only the chunks that were at least partly heard)."""

    pcm: Pcm
    chunk_index: int


class Synthesis(Protocol):
    """One answer being spoken."""

    async def send_text(self, text: str) -> None:
        """Speak ``text`` after what was sent before (a sentence or clause; never empty)."""
        ...

    async def end(self) -> None:
        """No more text will come: the audio ends after the last chunk's."""
        ...

    def audio(self) -> AsyncIterator[SpokenAudio]:
        """The answer's audio, in order, until the engine is done or the synthesis is closed.

        Raises :class:`~unmute_server.voice.errors.VoiceEngineError` on failure.
        """
        ...

    async def aclose(self) -> None:
        """Stop now (barge-in, disconnect): no more audio, the engine's work is ended."""
        ...


class TextToSpeech(Protocol):
    """One instance per process, shared by every session."""

    #: ``embedded``, ``kyutai`` or ``openai``: for metrics labels and ``/v1/health``.
    name: str

    async def start(self, voice: VoiceChoice, language: str) -> Synthesis:
        """Open a synthesis for one answer in ``voice`` and ``language`` (ISO 639-1)."""
        ...

    async def probe(self) -> bool:
        """Whether the engine can speak now, answered within a bounded time."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections or processes; called once at cleanup."""
        ...
