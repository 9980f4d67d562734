"""Character files that would do harm if run are read as data only.

Each file below, if executed, creates a marker file. After the reader has seen it (bytes read
from disk, through ``parse_character_file``), the marker must not exist, no module may have
been imported, and the file must be refused with the code that names why. A control test runs
the same files in a separate Python process to prove each one really does create the marker,
so the "marker is absent" checks are not vacuous.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from unmute_server.characters.charfile import CharacterFileResult, parse_character_file

#: Valid fields, so a hostile part is the only thing wrong with a file.
FILLER = (
    'VOICE_SOURCE = {"source_type": "file", "path_on_server": "voices/a.wav"}\n'
    'INSTRUCTIONS = {"type": "constant", "text": "Be brief."}\n'
)

#: name -> (source with MARKER standing for the marker path, codes that must be reported)
HOSTILE: dict[str, tuple[str, set[str]]] = {
    "open_in_a_value": ("CHARACTER_NAME = open(MARKER, 'w').name\n", {"CHR104"}),
    "open_as_a_statement": ("CHARACTER_NAME = 'x'\nopen(MARKER, 'w').close()\n", {"CHR101"}),
    "import_os_system": (
        "import os\nCHARACTER_NAME = 'x'\nos.system(': > ' + MARKER)\n",
        {"CHR102", "CHR101"},
    ),
    "exec_call": (
        "CHARACTER_NAME = 'x'\nexec(\"open(\" + repr(MARKER) + \", 'w')\")\n",
        {"CHR101"},
    ),
    "exec_in_a_value": ('CHARACTER_NAME = exec("open(" + repr(MARKER) + ", \'w\')")\n', {"CHR104"}),
    "dunder_import": (
        "CHARACTER_NAME = 'x'\n__import__('os').system(': > ' + MARKER)\n",
        {"CHR101"},
    ),
    "dunder_import_in_a_value": (
        "CHARACTER_NAME = __import__('os').system(': > ' + MARKER)\n",
        {"CHR104"},
    ),
    "prompt_generator_class_body": (
        "CHARACTER_NAME = 'x'\n"
        "class PromptGenerator:\n"
        "    open(MARKER, 'w').close()\n"
        "    def make_system_prompt(self):\n"
        "        return ''\n",
        {"CHR103"},
    ),
    "prompt_generator_subclass": (
        "CHARACTER_NAME = 'x'\n"
        "class Base:\n"
        "    pass\n"
        "PromptGenerator = Base\n"
        "class Quiz(PromptGenerator):\n"
        "    open(MARKER, 'w').close()\n",
        {"CHR101", "CHR103", "CHR106"},
    ),
    "main_guard": (
        "CHARACTER_NAME = 'x'\nif __name__ == '__main__':\n    open(MARKER, 'w').close()\n",
        {"CHR101"},
    ),
    "annotation": ("CHARACTER_NAME: open(MARKER, 'w').close() = 'x'\n", {"CHR104"}),
    "default_argument": (
        "CHARACTER_NAME = 'x'\ndef helper(handle=open(MARKER, 'w')):\n    pass\n",
        {"CHR101"},
    ),
    "decorator": (
        "CHARACTER_NAME = 'x'\n@(lambda function: open(MARKER, 'w'))\ndef helper():\n    pass\n",
        {"CHR101"},
    ),
    "f_string": ("CHARACTER_NAME = f\"{open(MARKER, 'w').close()}x\"\n", {"CHR105"}),
    "walrus_in_a_dict": (
        "CHARACTER_NAME = 'x'\nCOMMENT = {'a': (handle := open(MARKER, 'w'))}\n",
        {"CHR104"},
    ),
    "comprehension": (
        "CHARACTER_NAME = 'x'\nCOMMENT = [open(MARKER, 'w') for _ in 'a']\n",
        {"CHR104"},
    ),
}


def _write_hostile(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """The hostile file in a pack folder, and the marker it would create."""
    marker = tmp_path / "marker"
    pack = tmp_path / "pack"
    pack.mkdir()
    source, _codes = HOSTILE[name]
    target = pack / f"{name}.py"
    target.write_text(source.replace("MARKER", repr(str(marker))) + FILLER, encoding="utf-8")
    return target, marker


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file_is_refused_without_running(tmp_path: Path, name: str) -> None:
    target, marker = _write_hostile(tmp_path, name)
    listing = sorted(target.parent.iterdir())
    modules = set(sys.modules)

    result = parse_character_file(f"pack/{target.name}", target.read_bytes())

    assert set(sys.modules) == modules
    assert not marker.exists()
    assert sorted(target.parent.iterdir()) == listing  # no __pycache__, nothing written
    _assert_refused(result, HOSTILE[name][1])


def _assert_refused(result: CharacterFileResult, codes: set[str]) -> None:
    assert result.character is None
    reported = {found.code for found in result.diagnostics}
    assert codes <= reported, result.diagnostics
    assert all(found.line >= 1 and found.col >= 1 for found in result.diagnostics)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file_really_creates_the_marker_when_run(tmp_path: Path, name: str) -> None:
    """The control: a separate Python (never the code under test) runs the fixture."""
    target, marker = _write_hostile(tmp_path, name)
    subprocess.run(
        [sys.executable, "-I", str(target)],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert marker.exists()


def test_code_inside_a_string_is_only_text(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    text = f"__import__('os').system(': > {marker}')"
    target = tmp_path / "charles.py"
    target.write_text(f"CHARACTER_NAME = 'Charles'\nCOMMENT = {text!r}\n{FILLER}", encoding="utf-8")
    modules = set(sys.modules)

    result = parse_character_file("charles.py", target.read_bytes())

    assert set(sys.modules) == modules
    assert not marker.exists()
    assert result.diagnostics == ()
    assert result.character is not None
    assert result.character.comment == text
