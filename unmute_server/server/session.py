"""One voice session's state: its registry, its chosen character, its configuration.

A session is created per WebSocket connection and lives exactly as long as it. It holds a
*reference* to a shared, immutable :class:`~unmute_server.characters.registry.CharacterRegistry`
(never a copy), so an idle session costs a few hundred bytes; ``__slots__`` keeps it that way.
A reload replaces ``registry`` in one assignment (:meth:`Session.adopt`), so whoever reads
the session sees one whole pack or the other, never a mix (DESIGN 4).

This module knows characters but not the wire protocol: the WebSocket handler turns events
into calls here and results into events.
"""

from __future__ import annotations

import secrets

from unmute_server.characters.model import (
    Character,
    ConstantInstructions,
    FileVoice,
    Instructions,
)
from unmute_server.characters.prompts import render_system_prompt
from unmute_server.characters.registry import CharacterRegistry
from unmute_server.characters.voice_paths import character_for_voice
from unmute_server.conversation.prompt_source import DEFAULT_PROMPT_SOURCE, PromptSource

#: What a client gave as ``instructions``: a literal system prompt, or an instructions object.
GivenInstructions = str | Instructions

#: Whom instructions given as an object speak as while no character is chosen: only its name
#: reaches a prompt ("You are the assistant, ...").
NO_CHARACTER = Character(
    name="the assistant",
    voice=FileVoice(source_type="file", path_on_server="none.wav"),
    instructions=ConstantInstructions(type="constant", text="(none)"),
)


class ReloadBudget:
    """A token bucket: ``limit`` reloads per ``window`` seconds, refilled continuously.

    Two floats per session rather than a list of timestamps, so the limit costs the same
    memory whatever it is set to. Time comes from the caller (the loop's monotonic clock),
    which keeps this pure and testable.
    """

    __slots__ = ("_limit", "_rate", "_stamp", "_tokens")

    def __init__(self, limit: int, window: float, now: float) -> None:
        self._limit = float(limit)
        self._rate = limit / window
        self._tokens = float(limit)
        self._stamp = now

    def take(self, now: float) -> bool:
        """Spend one reload if one is left at ``now``; ``False`` means over the limit."""
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self._limit, self._tokens + elapsed * self._rate)
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class Session:
    """Per-connection state. ``registry`` is only ever replaced whole."""

    __slots__ = (
        "allow_recording",
        "character",
        "given_instructions",
        "prompt_source",
        "registry",
        "reload_budget",
        "seed",
        "system_prompt",
    )

    def __init__(
        self,
        registry: CharacterRegistry,
        reload_budget: ReloadBudget,
        seed: int | None = None,
        *,
        prompt_source: PromptSource = DEFAULT_PROMPT_SOURCE,
    ) -> None:
        self.registry = registry
        self.reload_budget = reload_budget
        #: The operator's time zone, language and news, shared by every session.
        self.prompt_source = prompt_source
        #: Drives every random choice a prompt builder makes, so a session's prompt is stable.
        self.seed = secrets.randbits(32) if seed is None else seed
        self.character: Character | None = None
        self.given_instructions: GivenInstructions | None = None
        self.allow_recording = False
        #: The prompt the conversation layer uses; ``None`` until there is one.
        self.system_prompt: str | None = None

    @property
    def voice(self) -> str | None:
        """The chosen character's name (its voice id), if any."""
        return None if self.character is None else self.character.name

    def update(
        self,
        *,
        voice: str | None = None,
        instructions: GivenInstructions | None = None,
        allow_recording: bool | None = None,
    ) -> None:
        """Apply a ``session.update``: every given field, or none of them.

        ``voice`` is a character's name or its one voice ``path_on_server`` (the name wins).
        Raises ``KeyError`` (and changes nothing) if it names no character in this session's
        registry, so an unknown voice leaves the previous choice in place.
        """
        character = self.character
        if voice is not None:
            character = character_for_voice(self.registry, voice)
            if character is None:
                raise KeyError(voice)
        given = self.given_instructions if instructions is None else instructions
        # The prompt is rendered before anything is assigned, so a failure changes nothing.
        prompt = self._prompt_for(character, given)
        self.character = character
        self.given_instructions = given
        self.system_prompt = prompt
        if allow_recording is not None:
            self.allow_recording = allow_recording

    def adopt(self, registry: CharacterRegistry) -> str | None:
        """Make ``registry`` this session's pack, in one assignment.

        The chosen character is looked up again by name in the new pack (its definition may
        have changed). If it is gone, the session falls back to the pack's first good
        character (its first character when none is good), so a conversation under way keeps
        a character to speak as; the name of the character that was gone is returned so the
        client can be told, else ``None``. A session without a character (instructions only)
        keeps its instructions.
        """
        previous = self.character
        if previous is None:
            character = None
        else:
            character = registry.get(previous.name)
            if character is None:
                character = fallback_character(registry)
        prompt = self._prompt_for(character, self.given_instructions)
        self.registry = registry
        self.character = character
        self.system_prompt = prompt
        if previous is not None and (character is None or character.name != previous.name):
            return previous.name
        return None

    def _prompt_for(
        self, character: Character | None, given: GivenInstructions | None
    ) -> str | None:
        """The system prompt, rendered with this session's seed.

        Instructions given as an object replace the character's own (as kyutai-labs/unmute
        builds the prompt from the instructions the client sends, the character giving its
        name); a string is the prompt only while no character is chosen.
        """
        if given is None or isinstance(given, str):
            if character is None:
                return given
            speaker = character
        else:
            chosen = NO_CHARACTER if character is None else character
            speaker = chosen.model_copy(update={"instructions": given})
        return render_system_prompt(speaker, self.prompt_source.context(self.seed))


def fallback_character(registry: CharacterRegistry) -> Character | None:
    """The pack's first good character, else its first character (``None`` for an empty one)."""
    first: Character | None = None
    for character in registry.values():
        if character.good:
            return character
        if first is None:
            first = character
    return first
