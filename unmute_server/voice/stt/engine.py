"""What the voice pipeline needs from a speech-to-text engine.

Small on purpose, like :class:`~unmute_server.llm.backend.ChatBackend`: the pipeline opens one
:class:`Transcription` per utterance (when the person starts speaking), feeds it audio in order,
and asks for the final text when the turn ends. The engine may pool connections, run a model in a
thread, or post the whole utterance to an HTTP API at ``finish``; the pipeline never knows which.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from unmute_server.voice.audio import Pcm

#: Called with the *stable* transcript so far (not a delta): words the engine will not revise
#: in its live output, each call extending the last (the listener sends what a call adds as a
#: delta, and words once sent are never taken back; see
#: :mod:`unmute_server.voice.transcript_stream`). From the event loop only. An engine that has
#: no partials never calls it.
PartialCallback = Callable[[str], None]


class Transcription(Protocol):
    """One utterance being transcribed."""

    async def feed(self, pcm: Pcm) -> None:
        """Add audio (mono float32 at 24 kHz), in order. Must not block the event loop."""
        ...

    async def finish(self) -> str:
        """The utterance is over: return its final transcript (``""`` if nothing was heard).

        Raises :class:`~unmute_server.voice.errors.VoiceEngineError` on failure.
        """
        ...

    async def aclose(self) -> None:
        """Abandon the utterance (barge-in, disconnect) and free what it holds. Idempotent."""
        ...


class SpeechToText(Protocol):
    """One instance per process, shared by every session."""

    #: ``embedded``, ``kyutai`` or ``openai``: for metrics labels and ``/v1/health``.
    name: str

    async def start(self, language: str, on_partial: PartialCallback) -> Transcription:
        """Open a transcription for one utterance in ``language`` (an ISO 639-1 code).

        Raises :class:`~unmute_server.voice.errors.VoiceEngineError` with code ``unsupported``
        for a language the engine does not have, or when the engine cannot be reached.
        """
        ...

    @property
    def down_reason(self) -> str | None:
        """Why the engine is down, when it knows (``None`` when up, or when it cannot tell)."""
        ...

    async def warm(self) -> None:
        """Prepare what a first utterance needs (called once at start-up); never raises."""
        ...

    async def probe(self) -> bool:
        """Whether the engine can transcribe now, answered within a bounded time."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections, threads or models; called once at cleanup."""
        ...
