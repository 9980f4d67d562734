"""Hostile packs: nothing in a pack runs, and nothing outside a pack is read.

Each test builds the attack for real on disk and checks its effect is absent: no marker
file, no new module, no character or message carrying the outside file's content.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from unmute_server.characters.pack import (
    PackNameError,
    PackNameProblem,
    load_pack,
    read_pack,
    resolve_pack,
)
from unmute_server.characters.registry import RegistryCache

MARKER = "OUTSIDE_MARKER_7f3a"


def character_toml(name: str) -> str:
    return tomli_w.dumps(
        {
            "name": name,
            "voice": {"source_type": "file", "path_on_server": "voices/x.wav"},
            "instructions": {"type": "constant", "text": f"You are {name}."},
        }
    )


def hostile_sources(marker: Path) -> dict[str, str]:
    """Character files that would create ``marker`` (or worse) if anything executed them."""
    target = str(marker)
    return {
        "imports.py": f"import os\nopen({target!r}, 'w').write('ran')\n",
        "dunder.py": f"__import__('os').system('touch {target}')\n",
        "exec.py": f"exec(\"open({target!r}, 'w')\")\n",
        "eval.py": f"NAME = eval(\"open({target!r}, 'w')\")\n",
        "generator.py": (
            "import os\n"
            "class PromptGenerator:\n"
            f"    open({target!r}, 'w')\n"
            "    def make_system_prompt(self):\n"
            "        return 'x'\n"
        ),
        "walrus.py": f"CHARACTER_NAME = (f := open({target!r}, 'w'))\n",
        "fstring.py": f"CHARACTER_NAME = f\"{{open({target!r}, 'w')}}\"\n",
        "decorator.py": f"@open({target!r}, 'w')\ndef f():\n    pass\n",
        "lambda.py": f"INSTRUCTIONS = (lambda: open({target!r}, 'w'))()\n",
        "default_arg.py": f"def f(x=open({target!r}, 'w')):\n    pass\n",
        "comprehension.py": f"GOOD = [open({target!r}, 'w') for _ in range(1)]\n",
        "sitecustomize.py": f"open({target!r}, 'w')\n",
        "os.py": f"open({target!r}, 'w')\n",
        "__init__.py": f"open({target!r}, 'w')\n",
        "template.toml": character_toml("Template")
        .replace('type = "constant"', 'type = "template"')
        .replace("You are Template.", "{name.__class__.__init__.__globals__}"),
    }


def test_hostile_pack_runs_nothing_and_imports_nothing(tmp_path: Path) -> None:
    # Load a harmless pack first, so modules the loader itself imports lazily are loaded.
    harmless = tmp_path / "harmless"
    harmless.mkdir()
    (harmless / "ok.toml").write_text(character_toml("Ok"))
    (harmless / "ok2.py").write_text('CHARACTER_NAME = "x"\n')
    load_pack(harmless, "harmless")

    marker = tmp_path / "marker"
    pack = tmp_path / "hostile"
    pack.mkdir()
    for name, source in hostile_sources(marker).items():
        (pack / name).write_text(source)
    modules_before = set(sys.modules)
    cwd_before = os.getcwd()

    registry = load_pack(pack, "hostile")

    assert not marker.exists()
    assert set(sys.modules) == modules_before
    assert os.getcwd() == cwd_before
    assert len(registry) == 0
    reported = {diagnostic.path for diagnostic in registry.diagnostics}
    assert reported >= set(hostile_sources(marker))
    assert all(diagnostic.is_error for diagnostic in registry.diagnostics)
    # Nothing was compiled and cached beside the files either.
    assert sorted(path.name for path in pack.iterdir()) == sorted(hostile_sources(marker))


def test_outside_file_behind_a_symlink_is_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    # A valid character: had it been read, it would be in the registry.
    (outside / "secret.toml").write_text(character_toml(MARKER))
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "ok.toml").write_text(character_toml("Ok"))
    (pack / "direct.toml").symlink_to(outside / "secret.toml")
    (pack / "relative.toml").symlink_to(Path("..") / "outside" / "secret.toml")
    # A chain of links that starts inside the pack and ends outside it.
    (pack / "hop.txt").symlink_to(outside / "secret.toml")
    (pack / "chain.toml").symlink_to("hop.txt")

    snapshot = read_pack(pack)
    registry = load_pack(pack, "pack")

    assert [pack_file.name for pack_file in snapshot.files] == ["ok.toml"]
    assert all(MARKER.encode() not in pack_file.data for pack_file in snapshot.files)
    assert list(registry) == ["Ok"]
    chr004 = sorted(d.path for d in registry.diagnostics if d.code == "CHR004")
    assert chr004 == ["chain.toml", "direct.toml", "relative.toml"]
    for diagnostic in registry.diagnostics:
        assert MARKER not in str(diagnostic)
        assert str(tmp_path) not in str(diagnostic)


def test_symlink_into_a_sibling_folder_named_like_the_pack_is_refused(tmp_path: Path) -> None:
    """``pack-x`` starts with ``pack``: being inside a folder is not a string prefix."""
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "ok.toml").write_text(character_toml("Ok"))
    sibling = tmp_path / "pack-x"
    sibling.mkdir()
    (sibling / "secret.toml").write_text(character_toml(MARKER))
    (pack / "sibling.toml").symlink_to(Path("..") / "pack-x" / "secret.toml")
    (pack / "absolute.toml").symlink_to(sibling / "secret.toml")
    registry = load_pack(pack, "pack")
    assert list(registry) == ["Ok"]
    chr004 = sorted(d.path for d in registry.diagnostics if d.code == "CHR004")
    assert chr004 == ["absolute.toml", "sibling.toml"]


def test_symlinks_to_devices_and_fifos_do_not_hang_or_read(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "ok.toml").write_text(character_toml("Ok"))
    (pack / "zero.toml").symlink_to("/dev/zero")
    (pack / "random.toml").symlink_to("/dev/urandom")
    os.mkfifo(pack / "fifo")
    (pack / "fifo.toml").symlink_to("fifo")
    registry = load_pack(pack, "pack")
    assert list(registry) == ["Ok"]
    codes = {d.path: d.code for d in registry.diagnostics}
    assert codes == {"zero.toml": "CHR004", "random.toml": "CHR004", "fifo.toml": "CHR003"}


def test_symlinked_pack_folder_out_of_the_root_is_refused_before_any_read(
    tmp_path: Path,
) -> None:
    root = tmp_path / "packs"
    root.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.toml").write_text(character_toml(MARKER))
    (root / "evil").symlink_to(outside)
    with pytest.raises(PackNameError) as caught:
        resolve_pack(root, "evil")
    assert caught.value.problem is PackNameProblem.OUTSIDE_ROOT
    assert MARKER not in caught.value.message
    assert str(outside) not in caught.value.message


@pytest.mark.parametrize("name", ["..", "../elsewhere", "/etc", str(Path("/tmp")), "~root"])
def test_names_reaching_outside_the_root_never_resolve(tmp_path: Path, name: str) -> None:
    root = tmp_path / "packs"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(PackNameError) as caught:
        resolve_pack(root, name)
    assert caught.value.problem is PackNameProblem.INVALID_NAME


def test_a_pack_swapped_for_a_symlink_after_caching_is_refused_by_name(tmp_path: Path) -> None:
    root = tmp_path / "packs"
    (root / "p").mkdir(parents=True)
    (root / "p" / "ok.toml").write_text(character_toml("Ok"))
    cache = RegistryCache()
    first = cache.load_sync(resolve_pack(root, "p"), "p")
    assert list(first) == ["Ok"]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.toml").write_text(character_toml(MARKER))
    (root / "p").rename(tmp_path / "old")
    (root / "p").symlink_to(outside)
    with pytest.raises(PackNameError) as caught:
        resolve_pack(root, "p")
    assert caught.value.problem is PackNameProblem.OUTSIDE_ROOT


def test_file_names_that_look_like_paths_stay_relative(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "..toml").write_text(character_toml("Dots"))
    (pack / "-rf.toml").write_text(character_toml("Dash"))
    registry = load_pack(pack, "pack")
    assert list(registry) == ["Dash"]
    assert registry.total_files == 1


#: Text that makes the parsers themselves reach for a module or fail in unusual ways.
PARSER_EDGES = {
    "named_escape.py": 'CHARACTER_NAME = "\\N{BULLET} Nova"\n',
    "named_escape_bad.py": 'CHARACTER_NAME = "\\N{NO SUCH CHARACTER}"\n',
    "coding_cookie.py": "# -*- coding: rot13 -*-\nCHARACTER_NAME = 'x'\n",
    "long_int.py": "GOOD = " + "9" * 5000 + "\n",
    "long_int_toml.toml": "good = " + "9" * 5000 + "\n",
    "deep.py": "COMMENT = " + "[" * 5000 + "]" * 5000 + "\n",
    "deep_toml.toml": "comment = " + "[" * 5000 + "]" * 5000 + "\n",
    "dates.toml": "comment = 1979-05-27T07:32:00-08:00\ngood = 07:32:00\n",
}

_FRESH_PROCESS_LOAD = """\
import json, sys
from pathlib import Path

import unmute_server.characters as characters

before = set(sys.modules)
codes = {}
for folder in sys.argv[1:]:
    registry = characters.load_pack(Path(folder), Path(folder).name)
    codes[folder] = sorted({diagnostic.code for diagnostic in registry.diagnostics})
print(json.dumps({"added": sorted(set(sys.modules) - before), "codes": codes}))
"""


def test_a_fresh_process_loading_any_pack_first_imports_no_module(tmp_path: Path) -> None:
    """No warm-up: in a new interpreter, whichever pack is read first adds nothing to
    ``sys.modules``, not even a module the parsers load lazily."""
    marker = tmp_path / "marker"
    folders: list[Path] = []
    for name, sources in (
        ("edges", PARSER_EDGES),
        ("hostile", hostile_sources(marker)),
    ):
        folder = tmp_path / name
        folder.mkdir()
        for file_name, source in sources.items():
            (folder / file_name).write_text(source, encoding="utf-8")
        folders.append(folder)
    bundled = Path(__file__).resolve().parents[2] / "character_packs"
    folders.extend(sorted(path for path in bundled.iterdir() if path.is_dir()))
    for first in range(len(folders)):
        order = folders[first:] + folders[:first]
        completed = subprocess.run(
            [sys.executable, "-I", "-c", _FRESH_PROCESS_LOAD, *map(str, order)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        found = json.loads(completed.stdout)
        assert found["added"] == [], (order[0].name, found["added"])
    assert not marker.exists()
    edges = found["codes"][str(tmp_path / "edges")]
    assert edges == ["CHR005", "CHR100", "CHR200", "CHR300", "CHR301", "CHR402"]
