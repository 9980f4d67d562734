"""Load limits: checked before the expensive step they protect.

A file's size is checked before it is read, nesting before it is walked, and a pack's file
count before any file is opened, so a hostile pack costs at most the limits' worth of work.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LoadLimits:
    max_file_bytes: int = 256 * 1024
    max_files_per_pack: int = 2000
    max_characters_per_pack: int = 2000
    max_string_length: int = 64 * 1024
    max_nesting_depth: int = 16
    max_pack_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) < 1:
                raise ValueError(f"limit {name} must be at least 1")


DEFAULT_LIMITS = LoadLimits()
