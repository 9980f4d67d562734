"""The project's documentation as one text: README.md (the front door) and every page under docs/.

The tests that keep codes, settings, events and metrics documented search all of it, so a section
can move between pages (as readers' needs change) without weakening what they check.
"""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PAGES = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
DOCUMENTATION = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
