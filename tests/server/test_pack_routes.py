"""``/v1/packs``: packs as the server reads them, through the reload's gate, never outside."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import Server, write_pack


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unmute_server", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def outside(packs_root: Path) -> Path:
    """A valid pack *outside* the packs root, and ``escape``, a link in the root naming it."""
    folder = write_pack(packs_root.parent, "outside", ["Outsider"])
    (packs_root / "escape").symlink_to(folder)
    return folder


async def test_lists_the_packs_a_reload_may_name_in_name_order(
    server: Server, packs_root: Path
) -> None:
    (packs_root / ".hidden").mkdir()
    (packs_root / "notes.txt").write_text("not a pack\n")
    (packs_root / "alias").symlink_to("second")
    assert await server.get_json("/v1/packs") == {
        "default": "default",
        "packs": ["alias", "broken", "default", "empty", "second"],
    }


async def test_a_packs_diagnostics_are_what_lint_reports_for_it(
    server: Server, packs_root: Path
) -> None:
    body = await server.get_json("/v1/packs/broken")
    linted = _cli(packs_root, "lint", "broken", "--format", "json")
    assert linted.returncode == 1, linted.stderr
    expected = json.loads(linted.stdout)
    assert [
        {key: value for key, value in d.items() if key != "hint"} for d in body["diagnostics"]
    ] == expected["diagnostics"]
    assert body["diagnostics"], "the broken pack has problems"
    assert all(d["path"].startswith("broken/") for d in body["diagnostics"])
    assert body["summary"] == expected["summary"]
    text = _cli(packs_root, "lint", "broken")
    assert body["text"] == text.stdout
    assert body["diagnostics"][0]["hint"]  # the code's summary from the table
    assert [c["name"] for c in body["characters"]] == ["Fay"]
    assert body["characters"][0] == {
        "name": "Fay",
        "good": False,
        "comment": None,
        "voice": None,
        "language": None,
    }
    assert body["default"] is False


async def test_default_names_the_default_pack_as_a_reload_reads_it(server: Server) -> None:
    body = await server.get_json("/v1/packs/default")
    assert (body["pack"], body["default"], body["diagnostics"]) == ("default", True, [])
    assert [c["name"] for c in body["characters"]] == ["Alice", "Bob"]


async def test_a_prompt_is_what_show_prints_for_the_character(
    server: Server, packs_root: Path
) -> None:
    body = await server.get_json("/v1/packs/second/characters/Dave/prompt?seed=7")
    shown = _cli(packs_root, "show", "second", "Dave", "--packs-root", ".", "--seed", "7")
    assert shown.returncode == 0, shown.stderr
    assert body == {"pack": "second", "character": "Dave", "seed": 7, "prompt": shown.stdout[:-1]}


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/packs/escape", 403, "pack_outside_root"),
        ("/v1/packs/escape/characters/Outsider/prompt", 403, "pack_outside_root"),
        ("/v1/packs/outside", 404, "directory_not_found"),
        ("/v1/packs/..%2Foutside", 400, "invalid_directory_format"),
        ("/v1/packs/..%5Coutside", 400, "invalid_directory_format"),
        ("/v1/packs/.hidden", 400, "invalid_directory_format"),
        ("/v1/packs/%2Ftmp", 400, "invalid_directory_format"),
        ("/v1/packs/missing", 404, "directory_not_found"),
        ("/v1/packs/default/characters/Zed/prompt", 404, "unknown_character"),
        ("/v1/packs/default/characters/Alice/prompt?seed=-1", 400, "invalid_event"),
        ("/v1/packs/default/characters/Alice/prompt?seed=99999999999", 400, "invalid_event"),
    ],
)
async def test_a_name_outside_the_root_or_unknown_is_refused_and_nothing_outside_is_read(
    server: Server, outside: Path, path: str, status: int, code: str
) -> None:
    response = await server.client.get(path)
    text = await response.text()
    assert response.status == status, text
    assert json.loads(text)["error"]["code"] == code
    assert "Outsider" not in text
    assert str(outside.parent) not in text  # no server path in any answer


async def test_an_unknown_character_names_the_closest_one(server: Server) -> None:
    response = await server.client.get("/v1/packs/default/characters/Alise/prompt")
    assert response.status == 404
    error = (await response.json())["error"]
    assert "did you mean 'Alice'?" in error["message"]
    assert error["param"] == "character"
