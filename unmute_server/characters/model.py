"""The character records: frozen, strict, and the source of the JSON Schemas.

Every model forbids unknown fields and is frozen, so a ``Character`` handed to a session is
the same value for as long as anyone holds it. Instructions are declarative: ``type`` picks a
prompt builder that lives in reviewed server code (``prompts.py``); a pack only fills it in.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Iterator, Mapping
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from unmute_server.characters.languages import (
    LANGUAGE_CODE_PATTERN,
    language_problem,
)
from unmute_server.characters.voices import (
    EMBEDDED_VOICE_PATTERN,
    OPENAI_VOICE_PATTERN,
    is_embedded_voice,
    is_openai_voice,
)

#: Placeholders a ``template`` instruction may use. Rendering fills every one of them, so a
#: template that validates can never fail with a ``KeyError`` at run time.
TEMPLATE_PLACEHOLDERS: dict[str, str] = {
    "name": "the character's name",
    "language": "the conversation language code, e.g. en",
    "language_name": "the conversation language in English, e.g. French",
    "date": "the current date, e.g. 2026-11-24",
    "time": "the current time of day, e.g. 14:05",
    "weekday": "the current day of the week, e.g. Tuesday",
    "timezone": "the session's time zone name, e.g. Europe/Paris",
}


def _language_code(code: str) -> str:
    problem = language_problem(code)
    if problem is not None:
        raise PydanticCustomError("language_code", "{problem}", {"problem": problem})
    return code


#: ``fr`` or ``en/fr``: ISO 639-1 codes that exist (:mod:`languages`).
LanguageCode = Annotated[
    str,
    AfterValidator(_language_code),
    Field(json_schema_extra={"pattern": LANGUAGE_CODE_PATTERN}),
]


NonEmptyText = Annotated[str, StringConstraints(min_length=1)]


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


Scalar = str | int | float | bool | None


class FrozenMapping(Mapping[str, Scalar]):
    """A read-only ``str`` to scalar mapping, for the one free-form table a character holds.

    ``frozen=True`` only stops attribute assignment; a plain ``dict`` field inside a frozen
    model can still be changed in place, and a registry's characters are shared by every
    session that loaded the same bytes. Unlike ``MappingProxyType`` it pickles, deep-copies
    and hashes, as the rest of a frozen model does.
    """

    __slots__ = ("_items",)

    _items: dict[str, Scalar]

    def __init__(self, items: Mapping[str, Scalar]) -> None:
        object.__setattr__(self, "_items", dict(items))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"FrozenMapping is immutable; cannot set {name!r}")

    def __getitem__(self, key: str) -> Scalar:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"FrozenMapping({self._items!r})"

    def __reduce__(self) -> tuple[type[FrozenMapping], tuple[dict[str, Scalar]]]:
        return (FrozenMapping, (dict(self._items),))


#: Validated as a ``dict`` (so the JSON Schema is an object), stored as a
#: :class:`FrozenMapping`, dumped as a ``dict`` again.
FrozenTable = Annotated[
    Mapping[str, Scalar],
    AfterValidator(FrozenMapping),
    PlainSerializer(dict, return_type=dict[str, Scalar]),
]


#: A URL scheme (``http:``, ``file:``, ``hf+s3:``) or a Windows drive (``C:``) before the
#: first ``/``: RFC 3986's scheme grammar.
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")

#: What a path segment may not hold, in a pattern: separators, C0 and C1 controls, and the
#: bidirectional and zero-width format characters (the rest of what ``str.isprintable``
#: refuses, such as a no-break space, is left to the server's check).
_SEGMENT_CHAR = (
    r"[^/\\\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)

#: :func:`voice_path_problem` as a JSON Schema ``pattern`` (ECMA-262), so editors flag the
#: same values: no leading ``/`` or ``~``, no URL scheme or drive, no ``..`` segment, no
#: empty segment, no backslash, control or invisible format character. It ends with
#: ``(?![\s\S])`` rather than ``$``, which Python's ``re`` (as validators written in Python
#: use) also matches before a final line feed.
VOICE_PATH_PATTERN = (
    r"^(?!~)(?![A-Za-z][A-Za-z0-9+.\-]*:)(?!(?:[^/]*/)*\.\.(?:/|$))"
    f"{_SEGMENT_CHAR}+(?:/{_SEGMENT_CHAR}+)*"
    r"(?![\s\S])"
)

VOICE_PATH_FIX = "write a relative path under the TTS server's voice folder, e.g. voices/nova.wav"


def voice_path_problem(path: str) -> str | None:
    """Why ``path`` may not be a ``path_on_server``, or ``None`` when it may.

    The path is handed to a TTS server, which may join it to its voice folder or fetch it
    as a URL: so it must stay below that folder whatever the server does with it. A plain
    relative path (``voices/nova.wav``) is the one form every TTS server reads alike.
    """
    if not path.isprintable():
        return "holds a control or invisible character"
    if path.startswith("/"):
        return "is absolute"
    if path.startswith("~"):
        return "starts with '~' (a home folder)"
    if "\\" in path:
        return "holds a backslash"
    scheme = _URL_SCHEME.match(path)
    if scheme is not None:
        return f"is a URL or drive ({scheme.group()})"
    segments = path.split("/")
    if ".." in segments:
        return "climbs out with '..'"
    if "" in segments:
        return "has an empty segment ('//' or a trailing '/')"
    return None


def _voice_path(path: str) -> str:
    problem = voice_path_problem(path)
    if problem is not None:
        raise PydanticCustomError("voice_path", "{problem}", {"problem": problem})
    return path


#: A ``path_on_server``: a relative path that stays inside the TTS server's voice folder.
VoicePath = Annotated[
    str,
    StringConstraints(min_length=1),
    AfterValidator(_voice_path),
    Field(
        json_schema_extra={"pattern": VOICE_PATH_PATTERN},
        description="A relative path under the TTS server's voice folder, e.g. voices/nova.wav: "
        "no leading '/' or '~', no '..' or empty segment, no backslash, no URL, no control "
        "or invisible character.",
    ),
]


class FileVoice(FrozenModel):
    """A voice cloned from an audio file the TTS server can read."""

    source_type: Literal["file"]
    path_on_server: VoicePath
    description: str | None = None
    description_link: str | None = None


class FreesoundVoice(FrozenModel):
    """A voice cloned from a Freesound sample (kept for packs ported from the peer)."""

    source_type: Literal["freesound"]
    url: NonEmptyText
    path_on_server: VoicePath | None = None
    description: str | None = None
    sound_instance: FrozenTable | None = None


VoiceSource = Annotated[FileVoice | FreesoundVoice, Field(discriminator="source_type")]


def _embedded_voice(spec: str) -> str:
    if not is_embedded_voice(spec):
        raise PydanticCustomError("embedded_voice", "is not an espeak-ng voice")
    return spec


def _openai_voice(name: str) -> str:
    if not is_openai_voice(name):
        raise PydanticCustomError("openai_voice", "is not a voice name")
    return name


#: An espeak-ng voice spec (a language code and an optional ``+variant``) or a ``+variant``
#: alone: never a path or an option.
EmbeddedVoice = Annotated[
    str,
    AfterValidator(_embedded_voice),
    Field(
        json_schema_extra={"pattern": EMBEDDED_VOICE_PATTERN},
        description="An espeak-ng voice: a language code and an optional +variant (en-gb+m4, "
        "fr-fr+m2), or a +variant alone (+f3) to speak the character's language with it.",
    ),
]

#: A voice name for an OpenAI-compatible text-to-speech server.
OpenAIVoice = Annotated[
    str,
    AfterValidator(_openai_voice),
    Field(
        json_schema_extra={"pattern": OPENAI_VOICE_PATTERN},
        description="A voice name: 1 to 32 characters a-z, 0-9, '_' or '-', e.g. alloy, coral, "
        "marin.",
    ),
]


class CharacterVoices(FrozenModel):
    """The character's voice on engines that pick from voices they ship (Kyutai's TTS uses
    ``voice.path_on_server``). An engine left out gets a voice derived from the character."""

    embedded: EmbeddedVoice | None = None
    openai: OpenAIVoice | None = None


#: The longest ``persona`` a built-in instruction type takes: a paragraph or two about who
#: the character is, not a second prompt.
MAX_PERSONA_LENGTH = 2000


def _persona(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("persona", "is blank; describe the character or leave it out")
    return text


#: Who the character is, in the author's words, for the built-in instruction types: placed
#: after the builder's opening and before anything drawn per session.
PersonaText = Annotated[
    str,
    StringConstraints(max_length=MAX_PERSONA_LENGTH),
    AfterValidator(_persona),
    Field(
        json_schema_extra={"pattern": r"\S"},
        description="Who the character is, in your own words (for example: 'You are a retired "
        "sailor who loves puns.'), placed in the prompt right after its opening sentence. "
        f"Plain text of at most {MAX_PERSONA_LENGTH} characters, used as written (braces are "
        "not placeholders here).",
    ),
]


class ConstantInstructions(FrozenModel):
    """Fixed text, used as the system prompt as it stands (plus the shared speaking rules)."""

    type: Literal["constant"]
    text: NonEmptyText
    language: LanguageCode | None = None


class SmalltalkInstructions(FrozenModel):
    """Casual conversation on a topic drawn from a built-in list with the session's seed."""

    type: Literal["smalltalk"]
    language: LanguageCode | None = None
    persona: PersonaText | None = None


class QuizShowInstructions(FrozenModel):
    """A quiz-show host asking questions drawn with the session's seed."""

    type: Literal["quiz_show"]
    language: LanguageCode | None = None
    persona: PersonaText | None = None


class NewsInstructions(FrozenModel):
    """Talk about headlines the operator supplies (none means the builder says so)."""

    type: Literal["news"]
    language: LanguageCode | None = None
    persona: PersonaText | None = None


class GuessAnimalInstructions(FrozenModel):
    """A guessing game about an animal drawn with the session's seed."""

    type: Literal["guess_animal"]
    language: LanguageCode | None = None
    persona: PersonaText | None = None


class UnmuteExplanationInstructions(FrozenModel):
    """Explain how this voice system works."""

    type: Literal["unmute_explanation"]
    language: LanguageCode | None = None
    persona: PersonaText | None = None


class TemplateInstructions(FrozenModel):
    """Text with ``{placeholders}`` from :data:`TEMPLATE_PLACEHOLDERS` only.

    Placeholders are checked when the file is loaded: an unknown one is a load error, and
    attribute access, indexing, conversions and format specs are refused outright, because
    ``str.format`` on author text is otherwise a way to reach object internals.
    """

    type: Literal["template"]
    text: NonEmptyText
    language: LanguageCode | None = None

    @field_validator("text")
    @classmethod
    def _known_placeholders_only(cls, text: str) -> str:
        problems = placeholder_problems(text)
        if problems:
            raise PydanticCustomError(
                "template_placeholders",
                "{count} placeholder problem(s)",
                {"count": len(problems), "problems": problems},
            )
        return text


#: What every placeholder message ends with: what a placeholder is and how to avoid one.
PLACEHOLDER_RULE = (
    "a placeholder is a name in braces, one of "
    + ", ".join(f"{{{name}}}" for name in TEMPLATE_PLACEHOLDERS)
    + "; write `{{` and `}}` for a literal brace"
)


def placeholder_problems(text: str) -> list[tuple[str, str]]:
    """Every placeholder in ``text`` that rendering would refuse, as ``(source, message)``
    pairs in text order; ``source`` is how it starts in the text (``{dayy``), so a reader
    can point at it. Only bare names from :data:`TEMPLATE_PLACEHOLDERS` pass: anything else
    (``{name.__class__}``, ``{0}``, ``{name!r}``) is how ``str.format`` reaches object
    internals. A lone brace ends the scan, as it ends ``str.format``'s.
    """
    problems: list[tuple[str, str]] = []
    try:
        for _literal, field_name, format_spec, conversion in string.Formatter().parse(text):
            if field_name is None:
                continue
            if field_name in TEMPLATE_PLACEHOLDERS and not format_spec and not conversion:
                continue
            shown = "{" + field_name
            shown += f"!{conversion}" if conversion else ""
            shown += f":{format_spec}" if format_spec else ""
            message = f"`{shown}}}` is not a placeholder"
            close = difflib.get_close_matches(field_name, list(TEMPLATE_PLACEHOLDERS), n=1)
            if close and field_name.isidentifier():
                message += f"; did you mean {{{close[0]}}}?"
            problems.append(("{" + field_name, f"{message} ({PLACEHOLDER_RULE})"))
    except ValueError:
        problems.append(("", f"a lone `{{` or `}}` is not a placeholder ({PLACEHOLDER_RULE})"))
    return problems


def template_fields(text: str) -> list[str]:
    """The placeholder names in ``text``; raises ``ValueError`` on anything but known names."""
    problems = placeholder_problems(text)
    if problems:
        raise ValueError(problems[0][1])
    return [
        field_name
        for _literal, field_name, _spec, _conversion in string.Formatter().parse(text)
        if field_name is not None
    ]


Instructions = Annotated[
    ConstantInstructions
    | SmalltalkInstructions
    | QuizShowInstructions
    | NewsInstructions
    | GuessAnimalInstructions
    | UnmuteExplanationInstructions
    | TemplateInstructions,
    Field(discriminator="type"),
]

INSTRUCTION_TYPES: tuple[str, ...] = (
    "constant",
    "smalltalk",
    "quiz_show",
    "news",
    "guess_animal",
    "unmute_explanation",
    "template",
)


class Character(FrozenModel):
    """One conversation partner. ``name`` is its key in a registry and its ``voice`` id."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=False)]
    good: bool = False
    comment: str | None = None
    voice: VoiceSource
    voices: CharacterVoices | None = None
    instructions: Instructions

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str) -> str:
        if name != name.strip() or not name.isprintable():
            raise ValueError("name must be printable with no leading or trailing space")
        return name


#: Field names as the restricted Python form spells them. Any other ``UPPER_NAME`` maps to
#: ``upper_name`` by the lower-case rule, so a later model field needs no entry here.
PYTHON_FIELD_ALIASES: dict[str, str] = {
    "CHARACTER_NAME": "name",
    "VOICE_SOURCE": "voice",
}


def python_name_to_field(python_name: str) -> str:
    """Map ``CHARACTER_NAME`` to ``name``, ``GOOD`` to ``good`` and so on (DESIGN 3.1)."""
    return PYTHON_FIELD_ALIASES.get(python_name, python_name.lower())


def field_to_python_name(field_name: str) -> str:
    """The inverse of :func:`python_name_to_field`."""
    for python_name, field in PYTHON_FIELD_ALIASES.items():
        if field == field_name:
            return python_name
    return field_name.upper()


CHARACTER_FIELDS: tuple[str, ...] = tuple(Character.model_fields)
