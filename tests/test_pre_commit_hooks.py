"""``.pre-commit-hooks.yaml`` offers the lint hook, and its file pattern selects pack files."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).parent.parent


def _hook() -> dict[str, str]:
    """The hook's ``key: value`` lines (the file is flat YAML; no YAML library is needed)."""
    text = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith(("- ", "  ")) and ":" in line:
            key, _, value = line.strip().removeprefix("- ").partition(":")
            fields[key.strip()] = value.strip()
    return fields


def test_hook_runs_unmute_server_lint_on_the_files_passed() -> None:
    hook = _hook()
    assert hook["id"] == "unmute-server-lint"
    assert hook["entry"] == "unmute-server lint"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] == "true"  # noqa: S105 - "pass" is not a password here


def test_hook_pattern_selects_character_files_in_packs_only() -> None:
    pattern = re.compile(_hook()["files"])
    bundled = [
        path.relative_to(REPO).as_posix()
        for path in (REPO / "character_packs").glob("*/*")
        if path.suffix in {".py", ".toml"}
    ]
    assert bundled
    assert all(pattern.search(name) for name in bundled)
    for other in (
        "unmute_server/cli/lint.py",
        "pyproject.toml",
        "character_packs/default/README.md",
        "character_packs/default/nested/x.toml",
    ):
        assert not pattern.search(other), other
