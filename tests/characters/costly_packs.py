"""Packs that are costly to parse yet inside every load limit: the stall of issue 8."""

from __future__ import annotations

from pathlib import Path

#: About a second of parsing per file on the benchmark machine, and inside every limit.
COSTLY_FILE_BYTES = 256 * 1024


def costly_source(size: int = COSTLY_FILE_BYTES) -> str:
    """A restricted-Python file of ``size`` bytes that is one long list of small lists."""
    head = 'CHARACTER_NAME = "Costly"\nCOMMENT = ['
    count = (size - len(head) - 2) // len("[1],")
    return head + ",".join(["[1]"] * count) + "]\n"


def write_costly_pack(folder: Path, files: int = 4) -> Path:
    """``files`` costly files in ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        (folder / f"costly{index:03d}.py").write_text(costly_source(), encoding="utf-8")
    return folder
