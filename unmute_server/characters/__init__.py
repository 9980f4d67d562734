"""Character packs: read as data, validated, never executed.

The public surface of the package, in one place. A pack folder is opened once
(:func:`resolve_pack`, an :class:`OpenFolder`), read once (:func:`read_pack`), parsed file
by file (:func:`parse_character_file`), and built into an immutable
:class:`CharacterRegistry`; :class:`RegistryCache` shares one registry between everyone who
loaded the same bytes. Nothing here knows about aiohttp or the protocol.
"""

from __future__ import annotations

from unmute_server.characters.charfile import (
    CHARACTER_SUFFIXES,
    CharacterFileResult,
    parse_character_file,
)
from unmute_server.characters.diagnostics import CODES, Code, Diagnostic, Severity, has_errors
from unmute_server.characters.document import RawDocument
from unmute_server.characters.folders import OpenFolder
from unmute_server.characters.limits import DEFAULT_LIMITS, LoadLimits
from unmute_server.characters.model import (
    INSTRUCTION_TYPES,
    TEMPLATE_PLACEHOLDERS,
    Character,
    Instructions,
    VoiceSource,
)
from unmute_server.characters.pack import (
    PACK_PATH,
    PackChangedError,
    PackFile,
    PackFingerprint,
    PackNameError,
    PackNameProblem,
    PackSnapshot,
    build_registry,
    load_pack,
    pack_fingerprint,
    read_pack,
    read_pack_whole,
    resolve_pack,
)
from unmute_server.characters.pyfile import read_python
from unmute_server.characters.registry import CacheStats, CharacterRegistry, RegistryCache
from unmute_server.characters.tomlfile import read_toml
from unmute_server.characters.validate import validate_document

__all__ = [
    "CHARACTER_SUFFIXES",
    "CODES",
    "DEFAULT_LIMITS",
    "INSTRUCTION_TYPES",
    "PACK_PATH",
    "TEMPLATE_PLACEHOLDERS",
    "CacheStats",
    "Character",
    "CharacterFileResult",
    "CharacterRegistry",
    "Code",
    "Diagnostic",
    "Instructions",
    "LoadLimits",
    "OpenFolder",
    "PackChangedError",
    "PackFile",
    "PackFingerprint",
    "PackNameError",
    "PackNameProblem",
    "PackSnapshot",
    "RawDocument",
    "RegistryCache",
    "Severity",
    "VoiceSource",
    "build_registry",
    "has_errors",
    "load_pack",
    "pack_fingerprint",
    "parse_character_file",
    "read_pack",
    "read_pack_whole",
    "read_python",
    "read_toml",
    "resolve_pack",
    "validate_document",
]
