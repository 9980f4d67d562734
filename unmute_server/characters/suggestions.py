"""The one "did you mean" rule for names an author or a client typed (characters, packs).

``show``, ``say`` and ``session.update`` answer a misspelt name the same way, so a name that
``show`` corrects is corrected in a session too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest_name(wanted: str, known: Iterable[str]) -> str | None:
    """The known name ``wanted`` most likely meant, ignoring case; ``None`` when none is close."""
    by_folded = {name.casefold(): name for name in known}
    close = difflib.get_close_matches(wanted.casefold(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[close[0]] if close else None
