"""CHR410: a ``file`` voice whose sample lint cannot find.

``voice.path_on_server`` is relative to the TTS server's voice folder (Kyutai's TTS joins it
to its voices directory), which lint usually cannot see; so the check is opt-in: with
``lint --voices-root DIR`` a sample counts as found when it is in the pack folder itself
(``PACK/voices/nova.wav``, for packs that ship their samples) or under any DIR given. A
warning, not an error: the file still loads, and the TTS server may hold samples lint was
not shown.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import FieldPath, Position, position_in
from unmute_server.characters.model import Character, FileVoice


def missing_sample_warnings(
    sites: Iterable[tuple[Character, str, Mapping[FieldPath, Position]]],
    pack_folder: str,
    voices_roots: Sequence[str],
) -> list[Diagnostic]:
    """CHR410 for each character (with its file and positions) whose sample is not found.

    ``pack_folder`` is the folder as the user named it, so the path quoted in the message
    can be used as shown.
    """
    warnings: list[Diagnostic] = []
    for character, path, positions in sites:
        voice = character.voice
        if not isinstance(voice, FileVoice):
            continue
        sample = voice.path_on_server
        in_pack = os.path.join(pack_folder, sample)
        places = [in_pack, *(os.path.join(root, sample) for root in voices_roots)]
        if any(os.path.isfile(place) for place in places):
            continue
        at = position_in(positions, ("voice", "path_on_server"))
        folders = "folder" if len(voices_roots) == 1 else "folders"
        warnings.append(
            Diagnostic(
                path,
                at.line,
                at.col,
                "CHR410",
                f"voice sample {sample!r} is neither in the pack ({in_pack}) nor under the "
                f"voices {folders} {', '.join(voices_roots)}; path_on_server is relative to "
                "the TTS server's voice folder: fix the name or add the file",
            )
        )
    return warnings
