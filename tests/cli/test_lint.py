"""``unmute-server lint``: exact output in all three formats, exit codes, and reading once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from unmute_server.cli import main
from unmute_server.cli.lint import lint_paths

REPO = Path(__file__).parents[2]

GOOD = """\
name = "Nova"

[voice]
source_type = "file"
path_on_server = "voices/nova.wav"

[instructions]
type = "smalltalk"
"""

BAD = """\
name = "Bad"
good = "yes"

[voice]
source_type = "file"
path_on_server = "voices/bad.wav"

[instructions]
type = "template"
text = "Hello {nmae}"
"""

#: Defines "Nova" again: a pack-level problem reported on the later file, at 0:0.
TWIN = """\
name = "Nova"

[voice]
source_type = "file"
path_on_server = "voices/twin.wav"

[instructions]
type = "news"
"""

CLEAN_PYTHON = textwrap.dedent(
    '''\
    """Pip: a restricted Python character file."""
    CHARACTER_NAME = "Pip"
    VOICE_SOURCE = {"source_type": "file", "path_on_server": "voices/pip.wav"}
    INSTRUCTIONS = {"type": "guess_animal"}
    '''
)

#: Would leave a marker file behind if anything ever ran it.
LEGACY_PYTHON = textwrap.dedent(
    """\
    import pathlib
    pathlib.Path("ran.marker").write_text("executed")

    CHARACTER_NAME = "Pip"


    class PromptGenerator:
        pass
    """
)

#: The placeholder message of ``bad.toml``, which is pinned in the model's tests.
NMAE = (
    "'instructions.text': `{nmae}` is not a placeholder; did you mean {name}? (a placeholder "
    "is a name in braces, one of {name}, {language}, {language_name}, {date}, {time}, "
    "{weekday}, {timezone}; write `{{` and `}}` for a literal brace)"
)

BAD_TEXT = (
    "pack/bad.toml:2:1: CHR301 'good' must be true or false, not 'yes'\n"
    f"pack/bad.toml:10:15: CHR302 {NMAE}\n"
    "pack/twin.toml:0:0: CHR400 character 'Nova' is already defined in good.toml; "
    "this file is not loaded\n"
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def bad_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``pack/``: a clean file, two errors in one file, a duplicate name; cwd is its parent."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "pack" / "good.toml", GOOD)
    _write(tmp_path / "pack" / "bad.toml", BAD)
    _write(tmp_path / "pack" / "twin.toml", TWIN)
    return tmp_path / "pack"


@pytest.fixture
def clean_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "clean" / "nova.toml", GOOD)
    _write(tmp_path / "clean" / "pip.py", CLEAN_PYTHON)
    return tmp_path / "clean"


def test_clean_pack_exits_0_with_only_the_summary(
    clean_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "clean"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "checked 2 files (2 characters): no problems\n"


def test_text_format_prints_path_line_col_code_message_per_problem(
    bad_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "pack"]) == 1
    out, err = capsys.readouterr()
    assert out == BAD_TEXT
    assert err == "checked 3 files (1 character): 3 errors, 0 warnings\n"


def test_paths_are_the_given_path_joined_with_the_file_name(
    bad_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "./pack/"]) == 1
    out, _ = capsys.readouterr()
    assert (
        out.splitlines()[0] == "./pack/bad.toml:2:1: CHR301 'good' must be true or false, not 'yes'"
    )


def test_json_format_is_one_document_with_every_field_and_a_summary(
    bad_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "--format", "json", "pack"]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == {
        "diagnostics": [
            {
                "path": "pack/bad.toml",
                "line": 2,
                "col": 1,
                "code": "CHR301",
                "severity": "error",
                "message": "'good' must be true or false, not 'yes'",
            },
            {
                "path": "pack/bad.toml",
                "line": 10,
                "col": 15,
                "code": "CHR302",
                "severity": "error",
                "message": NMAE,
            },
            {
                "path": "pack/twin.toml",
                "line": 0,
                "col": 0,
                "code": "CHR400",
                "severity": "error",
                "message": "character 'Nova' is already defined in good.toml; "
                "this file is not loaded",
            },
        ],
        "summary": {"files": 3, "characters": 1, "errors": 3, "warnings": 0},
    }


def test_github_format_annotates_and_leaves_out_line_0(
    bad_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "--format", "github", "pack"]) == 1
    out, err = capsys.readouterr()
    assert out == (
        "::error file=pack/bad.toml,line=2,col=1,title=CHR301::"
        "'good' must be true or false, not 'yes'\n"
        f"::error file=pack/bad.toml,line=10,col=15,title=CHR302::{NMAE}\n"
        "::error file=pack/twin.toml,title=CHR400::"
        "character 'Nova' is already defined in good.toml; this file is not loaded\n"
    )
    assert err == "checked 3 files (1 character): 3 errors, 0 warnings\n"


def test_github_format_escapes_percent_newline_comma_and_colon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    # A quoted key may hold anything, and the unknown-field message repeats it.
    _write(
        tmp_path / "odd,dir:1" / "c.toml",
        'name = "C"\n"100%\\r\\nx" = 1\n[voice]\nsource_type = "file"\n'
        'path_on_server = "v.wav"\n[instructions]\ntype = "news"\n',
    )
    assert main(["lint", "--format", "github", "odd,dir:1"]) == 1
    out, _ = capsys.readouterr()
    assert out == (
        "::error file=odd%2Cdir%3A1/c.toml,line=2,col=1,title=CHR303::"
        "unknown field '100%25%0D%0Ax'; allowed: name, good, comment, voice, voices, instructions\n"
        "::error file=odd%2Cdir%3A1,title=CHR402::pack has no valid characters\n"
    )


def test_a_single_file_is_checked_with_its_path_as_given(
    bad_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "pack/bad.toml"]) == 1
    out, err = capsys.readouterr()
    assert out == "".join(BAD_TEXT.splitlines(keepends=True)[:2])
    assert err == "checked 1 file (0 characters): 2 errors, 0 warnings\n"


def test_single_good_files_of_both_forms_exit_0(
    clean_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "clean/nova.toml", "clean/pip.py"]) == 0
    assert capsys.readouterr() == ("", "checked 2 files (2 characters): no problems\n")


def test_shadowed_python_is_a_warning_exit_0_and_1_when_strict(
    clean_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(clean_pack / "nova.py", LEGACY_PYTHON)
    expected = (
        "clean/nova.py:0:0: CHR401 nova.py is shadowed by nova.toml and is not read; "
        "edit nova.toml instead\n"
    )
    assert main(["lint", "clean"]) == 0
    assert capsys.readouterr() == (
        expected,
        "checked 3 files (2 characters): 0 errors, 1 warning\n",
    )
    assert main(["lint", "--strict", "clean"]) == 1
    assert capsys.readouterr().out == expected
    assert not (clean_pack.parent / "ran.marker").exists()


def test_a_legacy_python_file_given_alone_beside_its_sidecar_is_only_reported_shadowed(
    clean_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(clean_pack / "nova.py", LEGACY_PYTHON)
    assert main(["lint", "clean/nova.py"]) == 0
    assert capsys.readouterr().out == (
        "clean/nova.py:0:0: CHR401 nova.py is shadowed by nova.toml and is not read; "
        "edit nova.toml instead\n"
    )
    assert not (clean_pack.parent / "ran.marker").exists()


def test_a_legacy_python_file_without_a_sidecar_is_an_error_and_never_runs(
    clean_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(clean_pack / "legacy.py", LEGACY_PYTHON)
    assert main(["lint", "clean/legacy.py"]) == 1
    out, _ = capsys.readouterr()
    assert out.startswith("clean/legacy.py:1:1: CHR102 ")
    assert "CHR103" in out
    assert not (clean_pack.parent / "ran.marker").exists()


def test_missing_path_exits_2_but_the_other_paths_are_still_checked(
    bad_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "nowhere", "pack", "gone.toml"]) == 2
    out, err = capsys.readouterr()
    assert out == BAD_TEXT
    assert err == (
        "unmute-server lint: nowhere does not exist\n"
        "unmute-server lint: gone.toml does not exist\n"
        "checked 3 files (1 character): 3 errors, 0 warnings\n"
    )


def test_a_file_that_is_not_a_character_file_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "README.md", "# notes\n")
    assert main(["lint", "README.md"]) == 2
    assert capsys.readouterr().err.startswith(
        "unmute-server lint: README.md is neither a pack folder nor a .py or .toml character file\n"
    )


def test_a_packs_root_is_checked_pack_by_pack(
    clean_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(clean_pack.parent / "broken" / "bad.toml", "name = 3\n")
    (clean_pack.parent / ".hidden").mkdir()
    _write(clean_pack.parent / ".hidden" / "x.toml", "not toml\n")
    assert main(["lint", "."]) == 1
    out, err = capsys.readouterr()
    assert [line.split(" ", 2)[:2] for line in out.splitlines()] == [
        ["./broken/bad.toml:1:1:", "CHR300"],
        ["./broken/bad.toml:1:1:", "CHR300"],
        ["./broken/bad.toml:1:1:", "CHR301"],
        ["./broken:0:0:", "CHR402"],
    ]
    assert err == "checked 3 files (2 characters): 4 errors, 0 warnings\n"


def test_a_folder_without_character_files_or_packs_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hollow" / "sub").mkdir(parents=True)
    assert main(["lint", "hollow"]) == 2
    assert capsys.readouterr().err.startswith(
        "unmute-server lint: hollow is not a pack: it holds no .py or .toml character files\n"
    )


def test_a_path_that_is_not_a_regular_file_exits_2_without_blocking(
    clean_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(clean_pack / "pipe.toml")
    assert main(["lint", "clean/pipe.toml"]) == 2
    assert capsys.readouterr().err.startswith(
        "unmute-server lint: cannot read clean/pipe.toml: not a regular file\n"
    )


def test_a_pack_named_twice_or_with_one_of_its_files_is_checked_once(
    bad_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "pack", "pack/", "pack/bad.toml"]) == 1
    out, err = capsys.readouterr()
    assert out == BAD_TEXT
    assert err == "checked 3 files (1 character): 3 errors, 0 warnings\n"


def test_json_output_stays_one_document_when_a_path_is_missing(
    clean_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "--format", "json", "clean", "nowhere"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["summary"] == {"files": 2, "characters": 2, "errors": 0, "warnings": 0}
    assert err == "unmute-server lint: nowhere does not exist\n"


def test_lint_paths_returns_the_records_the_views_format(bad_pack: Path) -> None:
    result = lint_paths(["pack"])
    assert [str(d) for d in result.diagnostics] == BAD_TEXT.splitlines()
    assert result.exit_code() == 1
    assert result.usage_errors == ()


def test_bundled_packs_lint_clean_in_a_real_process() -> None:
    packs = sorted(
        str(path.relative_to(REPO)) + "/"
        for path in (REPO / "character_packs").iterdir()
        if path.is_dir()
    )
    completed = subprocess.run(
        [sys.executable, "-m", "unmute_server", "lint", *packs],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout == (
        "character_packs/examples/quiz_night.py:0:0: CHR401 quiz_night.py is shadowed by "
        "quiz_night.toml and is not read; edit quiz_night.toml instead\n"
    )
    assert completed.stderr.endswith(": 0 errors, 1 warning\n")


def _read_chars() -> int:
    """Bytes this process has passed through read(2) so far (Linux ``/proc`` counter)."""
    with open("/proc/self/io", encoding="ascii") as counters:
        for line in counters:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar line in /proc/self/io")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads a /proc counter")
@pytest.mark.parametrize("name", ["huge.toml", "huge.py"])
def test_a_50_megabyte_file_given_alone_is_chr001_with_its_size_and_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    size = 50 * 1024 * 1024
    with open(tmp_path / name, "wb") as huge:
        huge.truncate(size)
    before = _read_chars()
    assert main(["lint", name]) == 1
    assert _read_chars() - before < 1024 * 1024
    assert capsys.readouterr().out == (
        f"{name}:0:0: CHR001 {name} is {size} bytes; the file size limit is 262144\n"
    )


def test_a_file_alone_and_in_its_pack_gets_the_same_size_diagnostic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "p" / "big.toml", "x" * 300_000)
    assert main(["lint", "p/big.toml"]) == 1
    alone = capsys.readouterr().out
    assert main(["lint", "p"]) == 1
    assert alone in capsys.readouterr().out
    assert "is 300000 bytes" in alone


def test_empty_and_undecodable_files_are_reported_where_they_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.toml").write_bytes(b"")
    (tmp_path / "blank.py").write_bytes(b" \n\t\r\n")
    (tmp_path / "latin1.py").write_bytes(b'CHARACTER_NAME = "A"\nCOMMENT = "caf\xe9"\n')
    (tmp_path / "other.toml").write_bytes(b'name = "A"\r\n\r\ncomment = "\xc3\xa9\xff"\n')
    assert main(["lint", "empty.toml", "blank.py", "latin1.py", "other.toml"]) == 1
    found = [line.split(" ", 2)[:2] for line in capsys.readouterr().out.splitlines()]
    assert found == [
        ["empty.toml:0:0:", "CHR007"],
        ["blank.py:0:0:", "CHR007"],
        ["latin1.py:2:15:", "CHR002"],
        ["other.toml:3:13:", "CHR002"],  # columns count characters: é is one
    ]


@pytest.mark.parametrize("output", ["text", "json", "github"])
@pytest.mark.parametrize(
    ("paths", "expected"),
    [(["clean"], 0), (["clean", "bad.toml"], 1), (["clean", "bad.toml", "nowhere"], 2)],
    ids=["clean", "problems", "usage"],
)
def test_exit_code_is_the_same_in_every_format(
    clean_pack: Path,
    capsys: pytest.CaptureFixture[str],
    output: str,
    paths: list[str],
    expected: int,
) -> None:
    _write(clean_pack.parent / "bad.toml", BAD)
    assert main(["lint", "--format", output, *paths]) == expected
    out = capsys.readouterr().out
    if output == "json":
        assert json.loads(out)["summary"]["errors"] == (0 if expected == 0 else 2)
    elif output == "github":
        assert out.count("::error file=bad.toml,") == (0 if expected == 0 else 2)
    else:
        assert out.count("bad.toml:") == (0 if expected == 0 else 2)


def test_lint_starts_without_the_server_or_the_network_stack() -> None:
    """A pre-commit hook runs lint on every commit: it must not pay for aiohttp or openai."""
    script = (
        "import sys\n"
        "from unmute_server.cli import main\n"
        "code = main(['lint', 'character_packs/default/'])\n"
        "heavy = ('aiohttp', 'openai', 'unmute_server.server.app')\n"
        "print(code, sorted(name for name in heavy if name in sys.modules))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert completed.stdout.splitlines()[-1] == "0 []", completed.stdout + completed.stderr


# --------------------------------------------------------------------------- hostile file names


#: One CHR301 per file, at 2:1, so each file gives exactly one diagnostic line.
def _one_error(name: str) -> str:
    return GOOD.replace('name = "Nova"', f'name = "{name}"\ngood = "yes"')


#: File names that would drive a terminal if printed raw: a line feed (forges a line), an
#: erase-screen escape, a carriage return (overwrites the line), the one-byte C1 CSI, and a
#: right-to-left override (shows the name reversed).
HOSTILE_NAMES = ("a\nb.toml", "\x1b[2J.toml", "c\r.toml", "d\x9b31m.toml", "\u202egnp.toml")

#: Everything a terminal could act on or display as something else.
TERMINAL_UNSAFE = ("\n", "\r", "\x1b", "\x9b", "\u202e")


@pytest.fixture
def hostile_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "pack" / "nova.toml", GOOD)
    for index, name in enumerate(HOSTILE_NAMES):
        _write(tmp_path / "pack" / name, _one_error(f"C{index}"))
    return tmp_path / "pack"


def test_text_format_escapes_control_and_bidi_characters_in_file_names(
    hostile_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "pack"]) == 1
    out, err = capsys.readouterr()
    message = "CHR301 'good' must be true or false, not 'yes'\n"
    assert out == (
        f"pack/\\x1b[2J.toml:2:1: {message}"
        f"pack/a\\nb.toml:2:1: {message}"
        f"pack/c\\r.toml:2:1: {message}"
        f"pack/d\\x9b31m.toml:2:1: {message}"
        f"pack/\\u202egnp.toml:2:1: {message}"
    )
    assert err == "checked 6 files (1 character): 5 errors, 0 warnings\n"


def test_github_format_escapes_what_the_runner_cannot_and_percent_encodes_line_breaks(
    hostile_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", "--format", "github", "pack"]) == 1
    out = capsys.readouterr().out
    message = "'good' must be true or false, not 'yes'\n"
    assert out == (
        f"::error file=pack/\\x1b[2J.toml,line=2,col=1,title=CHR301::{message}"
        f"::error file=pack/a%0Ab.toml,line=2,col=1,title=CHR301::{message}"
        f"::error file=pack/c%0D.toml,line=2,col=1,title=CHR301::{message}"
        f"::error file=pack/d\\x9b31m.toml,line=2,col=1,title=CHR301::{message}"
        f"::error file=pack/\\u202egnp.toml,line=2,col=1,title=CHR301::{message}"
    )


def test_messages_quoting_file_content_are_escaped_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown key is repeated in its message: a TOML escape puts ESC in it."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "c.toml", GOOD.replace("[voice]", '"x\\u001b[2J\\u202e" = 1\n[voice]'))
    assert main(["lint", "c.toml"]) == 1
    out = capsys.readouterr().out
    assert out == (
        "c.toml:3:1: CHR303 unknown field 'x\\x1b[2J\\u202e'; "
        "allowed: name, good, comment, voice, voices, instructions\n"
    )


def test_usage_errors_escape_the_path_they_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "x\x1b[2J.txt", "")
    assert main(["lint", "x\x1b[2J.txt", "gone\n.toml"]) == 2
    assert capsys.readouterr().err.splitlines()[:2] == [
        "unmute-server lint: x\\x1b[2J.txt is neither a pack folder nor a .py or .toml "
        "character file",
        "unmute-server lint: gone\\n.toml does not exist",
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="needs a file system that takes any bytes")
@pytest.mark.parametrize("output", ["text", "json", "github"])
def test_every_format_prints_valid_utf8_without_terminal_controls_in_a_real_process(
    tmp_path: Path, output: str
) -> None:
    """A folder name that is not UTF-8 (kept by Python as lone surrogates) and file names
    with controls: the output still encodes, and JSON still parses to the exact paths."""
    folder = os.fsdecode(os.fsencode(tmp_path) + b"/pack\xff")
    _write(Path(folder) / "nova.toml", GOOD)
    for index, name in enumerate(HOSTILE_NAMES):
        _write(Path(folder) / name, _one_error(f"C{index}"))
    completed = subprocess.run(
        [sys.executable, "-m", "unmute_server", "lint", "--format", output, "pack\udcff"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
        env={**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"},
    )
    assert completed.returncode == 1, completed.stderr
    out = completed.stdout.decode("utf-8")  # strict: a lone surrogate would not encode
    if output == "json":
        paths = [d["path"] for d in json.loads(out)["diagnostics"]]
        assert sorted(paths) == sorted(f"pack\udcff/{name}" for name in HOSTILE_NAMES)
        assert "\\udcff" in out
    else:
        assert len(out.splitlines()) == len(HOSTILE_NAMES)
        assert "pack\\xff/" in out
    assert [unsafe for unsafe in TERMINAL_UNSAFE if unsafe in out.replace("\n", "")] == []


@pytest.mark.skipif(sys.platform != "linux", reason="needs a file system that takes any bytes")
def test_a_file_name_that_is_not_utf8_and_holds_an_escape_is_one_escaped_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "pack" / "nova.toml", GOOD)
    (tmp_path / "pack" / os.fsdecode(b"\xff\x1b[2J.toml")).write_text(GOOD, encoding="utf-8")
    assert main(["lint", "pack"]) == 1
    assert capsys.readouterr().out == (
        "pack/\\xff\\x1b[2J.toml:0:0: CHR003 file name '\\xff\\x1b[2J.toml' is not valid "
        "UTF-8; rename it\n"
    )


def test_a_voice_path_outside_the_voice_folder_is_chr304_at_its_value_in_either_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "pack" / "nova.toml", GOOD.replace("voices/nova.wav", "/etc/shadow"))
    _write(tmp_path / "pack" / "pip.py", CLEAN_PYTHON.replace("voices/pip.wav", "http://x/v.wav"))
    assert main(["lint", "pack"]) == 1
    fix = "write a relative path under the TTS server's voice folder, e.g. voices/nova.wav"
    assert capsys.readouterr().out == (
        f"pack/nova.toml:5:1: CHR304 'voice.path_on_server' is absolute; {fix}\n"
        "pack/pip.py:3:58: CHR304 `VOICE_SOURCE['path_on_server']` is a URL or drive "
        f"(http:); {fix}\n"
        "pack:0:0: CHR402 pack has no valid characters\n"
    )


def test_look_alike_and_mixed_script_names_are_warnings_that_fail_only_when_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "pack" / "nova.toml", GOOD)
    # Its own voice file, so the only warnings are about the name (else CHR409 too).
    lookalike = GOOD.replace("Nova", "N\u043eva").replace("voices/nova.wav", "voices/nova2.wav")
    _write(tmp_path / "pack" / "nova2.toml", lookalike)
    assert main(["lint", "pack"]) == 0
    out, err = capsys.readouterr()
    cyrillic_o = "U+043E CYRILLIC SMALL LETTER O"
    assert out == (
        f"pack/nova2.toml:1:1: CHR305 name 'N\u043eva' mixes Cyrillic and Latin letters "
        f"(Cyrillic: {cyrillic_o}); write it in one script\n"
        f"pack/nova2.toml:1:1: CHR407 character name 'N\u043eva' looks like 'Nova' in "
        f"nova.toml ({cyrillic_o}); rename one of them\n"
    )
    assert err == "checked 2 files (2 characters): 0 errors, 2 warnings\n"
    assert main(["lint", "--strict", "pack"]) == 1


def test_help_says_how_to_lint_a_packs_root(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["lint", "--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "packs root" in out
    assert "unmute-server lint packs/*" in out
