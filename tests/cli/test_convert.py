"""``unmute-server convert``: Python character file in, TOML sidecar out, nothing executed."""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings

from tests.characters.test_tomlwrite import any_character
from unmute_server.characters.charfile import parse_character_file
from unmute_server.characters.model import Character, field_to_python_name
from unmute_server.cli import main
from unmute_server.cli.convert import EXIT_REVIEW_NEEDED

CLEAN = textwrap.dedent(
    '''\
    """Charles: a French general who talks about history."""
    CHARACTER_NAME = "Charles"
    GOOD = True
    COMMENT = "Voice cloned from a historical recording."
    VOICE_SOURCE = {
        "source_type": "file",
        "path_on_server": "voices/charles.wav",
        "description": "Archive recording",
    }
    INSTRUCTIONS = {
        "type": "constant",
        "text": (
            "You are Charles, a French general.\\n"
            "Answer in short sentences."
        ),
    }
    '''
)

VOICE = '{"source_type": "file", "path_on_server": "voices/quiz.wav"}'


def _legacy(tmp_path: Path, instructions: str) -> str:
    """A legacy file whose import or class would leave a marker file if it were ever run."""
    marker = tmp_path / "executed.marker"
    return textwrap.dedent(
        f"""\
        import pathlib
        pathlib.Path({str(marker)!r}).write_text("module ran")

        CHARACTER_NAME = "Quiz master"
        VOICE_SOURCE = {VOICE}


        class PromptGenerator:
            def __init__(self):
                pathlib.Path({str(marker)!r}).write_text("class ran")

            def make_system_prompt(self):
                return "You host a quiz."


        INSTRUCTIONS = {instructions}
        """
    )


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _character_of(path: Path) -> object:
    result = parse_character_file(path.name, path.read_bytes())
    # A drawn name may mix scripts: a warning a valid character can carry (CHR305).
    assert [d for d in result.diagnostics if d.code != "CHR305"] == []
    return result.character


def test_writes_sidecar_beside_the_python_file_with_the_same_character(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "pack" / "charles.py", CLEAN)
    assert main(["convert", str(source)]) == 0
    sidecar = tmp_path / "pack" / "charles.toml"
    assert capsys.readouterr().out == f"wrote {sidecar}\n"
    assert _character_of(sidecar) == _character_of(source)
    text = sidecar.read_text(encoding="utf-8")
    assert text.startswith('name = "Charles"\ngood = true\n')
    assert 'text = """\nYou are Charles, a French general.\nAnswer in short sentences."""' in text


def test_schema_directive_points_at_schemas_folder_above(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    source = _write(tmp_path / "character_packs" / "default" / "charles.py", CLEAN)
    assert main(["convert", str(source)]) == 0
    first_line = source.with_suffix(".toml").read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "#:schema ../../schemas/character.schema.json"


def test_no_schemas_folder_means_no_directive(tmp_path: Path) -> None:
    source = _write(tmp_path / "charles.py", CLEAN)
    assert main(["convert", str(source)]) == 0
    assert "#:schema" not in source.with_suffix(".toml").read_text(encoding="utf-8")


def test_call_gets_a_todo_in_a_sidecar_that_needs_review(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = CLEAN.split("INSTRUCTIONS =")[0] + "INSTRUCTIONS = get_instructions()\n"
    source = _write(tmp_path / "charles.py", text)
    assert main(["convert", str(source)]) == EXIT_REVIEW_NEEDED == 3
    out, err = capsys.readouterr()
    assert (
        f"{source}:10:16: INSTRUCTIONS is a call `get_instructions()`; "
        "write [instructions] by hand" in err
    )
    assert "missing required field" not in err
    sidecar = source.with_suffix(".toml")
    assert f"wrote {sidecar}; review needed: 1 TODO(convert) block to decide" in out
    text = sidecar.read_text(encoding="utf-8")
    assert text.startswith('name = "Charles"\ngood = true\n')
    assert "# TODO(convert): review needed" in text
    assert "#   INSTRUCTIONS = get_instructions()" in text
    # The sidecar does not load until the decision is written: nothing is silently lost.
    result = parse_character_file(sidecar.name, sidecar.read_bytes())
    assert result.character is None
    assert [d.code for d in result.diagnostics] == ["CHR300"]
    assert "instructions" in result.diagnostics[0].message


def test_non_literal_inside_a_dict_is_named_at_its_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = CLEAN.replace('"voices/charles.wav"', "VOICES_DIR + '/charles.wav'")
    source = _write(tmp_path / "charles.py", text)
    assert main(["convert", str(source)]) == EXIT_REVIEW_NEEDED
    err = capsys.readouterr().err
    assert f"{source}:7:23: VOICE_SOURCE is an expression `VOICES_DIR + '/charles.wav'`" in err
    assert "write [voice] by hand" in err
    sidecar = source.with_suffix(".toml").read_text(encoding="utf-8")
    assert "[voice]" not in sidecar.replace("# [voice]", "")
    assert "[instructions]" in sidecar


def test_legacy_prompt_generator_file_gets_a_reviewable_sidecar_and_is_never_executed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _legacy(tmp_path, "PromptGenerator().make_system_prompt()")
    source = _write(tmp_path / "pack" / "quiz.py", text)
    assert main(["convert", str(source)]) == EXIT_REVIEW_NEEDED
    out, err = capsys.readouterr()
    assert "INSTRUCTIONS is a call `PromptGenerator().make_system_prompt()`" in err
    assert "write [instructions] by hand (type = one of constant," in err
    assert "`class PromptGenerator` is not carried over" in err
    assert "`import pathlib` is not carried over" in err
    assert not (tmp_path / "executed.marker").exists()
    sidecar = source.with_suffix(".toml")
    assert f"wrote {sidecar}; review needed: 1 TODO(convert) block to decide" in out
    text = sidecar.read_text(encoding="utf-8")
    # Every field that could be read, as TOML.
    assert 'name = "Quiz master"' in text
    assert 'path_on_server = "voices/quiz.wav"' in text
    # The decision, marked, with the code that needs it quoted (never run) to decide from.
    todo = text[text.index("# TODO(convert)") :]
    assert "INSTRUCTIONS (quiz.py line 16) is code,\n# and code is never run" in todo
    assert "#   INSTRUCTIONS = PromptGenerator().make_system_prompt()" in todo
    assert "#   class PromptGenerator:" in todo
    assert '#           return "You host a quiz."' in todo
    assert "# [instructions]" in todo
    assert all(line.startswith("#") or not line for line in todo.splitlines())
    result = parse_character_file(sidecar.name, sidecar.read_bytes())
    assert [d.code for d in result.diagnostics] == ["CHR300"]


def test_legacy_file_whose_fields_are_all_literals_converts_with_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _legacy(tmp_path, '{"type": "quiz_show", "language": "en"}')
    source = _write(tmp_path / "pack" / "quiz.py", text)
    assert main(["convert", str(source)]) == 0
    err = capsys.readouterr().err
    assert "note: " in err
    assert "`class PromptGenerator` is not carried over" in err
    assert not (tmp_path / "executed.marker").exists()
    sidecar = source.with_suffix(".toml")
    result = parse_character_file("quiz.toml", sidecar.read_bytes())
    assert result.character is not None
    assert result.character.name == "Quiz master"
    assert result.character.instructions.type == "quiz_show"


def test_existing_sidecar_is_not_overwritten_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "charles.py", CLEAN)
    sidecar = _write(tmp_path / "charles.toml", "# hand-written\n")
    assert main(["convert", str(source)]) == 2
    assert f"{sidecar} already exists; pass --force" in capsys.readouterr().err
    assert sidecar.read_text(encoding="utf-8") == "# hand-written\n"


def test_force_overwrites_and_keeps_the_file_mode(tmp_path: Path) -> None:
    source = _write(tmp_path / "charles.py", CLEAN)
    sidecar = _write(tmp_path / "charles.toml", "# hand-written\n")
    sidecar.chmod(0o640)
    assert main(["convert", "--force", str(source)]) == 0
    assert _character_of(sidecar) == _character_of(source)
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o640
    assert sorted(path.name for path in tmp_path.iterdir()) == ["charles.py", "charles.toml"]


def test_new_sidecar_gets_ordinary_permissions_not_private_ones(tmp_path: Path) -> None:
    source = _write(tmp_path / "charles.py", CLEAN)
    assert main(["convert", "--force", str(source)]) == 0
    mode = stat.S_IMODE(source.with_suffix(".toml").stat().st_mode)
    assert mode == stat.S_IMODE(source.stat().st_mode)


def test_stdout_prints_the_toml_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "charles.py", CLEAN)
    _write(tmp_path / "charles.toml", "# hand-written\n")
    assert main(["convert", "--stdout", str(source)]) == 0
    out = capsys.readouterr().out
    assert out.startswith('name = "Charles"\n')
    assert "[instructions]" in out
    assert (tmp_path / "charles.toml").read_text(encoding="utf-8") == "# hand-written\n"


def test_output_option_chooses_the_destination(tmp_path: Path) -> None:
    source = _write(tmp_path / "charles.py", CLEAN)
    target = tmp_path / "out" / "general.toml"
    target.parent.mkdir()
    assert main(["convert", str(source), "--output", str(target)]) == 0
    assert _character_of(target) == _character_of(source)
    assert not source.with_suffix(".toml").exists()


def test_output_onto_the_input_is_refused(tmp_path: Path) -> None:
    source = _write(tmp_path / "charles.py", CLEAN)
    assert main(["convert", str(source), "--output", str(source), "--force"]) == 2
    assert source.read_text(encoding="utf-8") == CLEAN


def test_invalid_literal_value_is_reported_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "charles.py", CLEAN.replace("GOOD = True", 'GOOD = "yes"'))
    assert main(["convert", str(source)]) == 1
    err = capsys.readouterr().err
    assert f"{source}:3:" in err
    assert "CHR301 `GOOD` must be True or False" in err
    assert not source.with_suffix(".toml").exists()


def test_python_syntax_error_is_reported_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "charles.py", 'CHARACTER_NAME = "Charles\n')
    assert main(["convert", str(source)]) == 1
    assert "CHR100" in capsys.readouterr().err
    assert not source.with_suffix(".toml").exists()


def test_undecodable_bytes_are_reported_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "charles.py"
    source.write_bytes(b'CHARACTER_NAME = "Ch\xe9"\n')
    assert main(["convert", str(source)]) == 1
    assert "CHR002" in capsys.readouterr().err
    assert not source.with_suffix(".toml").exists()


def test_null_that_toml_cannot_hold_is_refused_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voice = (
        'VOICE_SOURCE = {"source_type": "freesound", "url": "https://x", '
        '"sound_instance": {"license": None}}\n'
    )
    text = CLEAN.split("VOICE_SOURCE =")[0] + voice + "INSTRUCTIONS = {'type': 'news'}\n"
    source = _write(tmp_path / "charles.py", text)
    assert main(["convert", str(source)]) == 1
    assert "'voice.sound_instance.license' is None" in capsys.readouterr().err
    assert not source.with_suffix(".toml").exists()


@pytest.mark.parametrize("name", ["missing.py", "charles.toml", "charles.txt"])
def test_missing_or_non_python_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    _write(tmp_path / "charles.toml", "name = 'x'\n")
    assert main(["convert", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / name) in err


def test_directory_named_like_a_python_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "odd.py").mkdir()
    assert main(["convert", str(tmp_path / "odd.py")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_stdout_and_output_together_are_a_usage_error(tmp_path: Path) -> None:
    source = _write(tmp_path / "charles.py", CLEAN)
    with pytest.raises(SystemExit) as caught:
        main(["convert", str(source), "--stdout", "--output", str(tmp_path / "x.toml")])
    assert caught.value.code == 2


def test_installed_command_converts_in_a_separate_process(tmp_path: Path) -> None:
    text = _legacy(tmp_path, '{"type": "news"}')
    source = _write(tmp_path / "quiz.py", text)
    completed = subprocess.run(
        [sys.executable, "-m", "unmute_server", "convert", str(source)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"wrote {source.with_suffix('.toml')}\n"
    assert not (tmp_path / "executed.marker").exists()
    assert not list(tmp_path.rglob("__pycache__"))


def _python_source(character: Character) -> str:
    """``character`` as a restricted Python file: one ``UPPER_NAME = repr(value)`` per field."""
    lines = ['"""Written by the round-trip property test."""']
    for field, value in character.model_dump(exclude_none=True).items():
        lines.append(f"{field_to_python_name(field)} = {value!r}")
    return "\n".join(lines) + "\n"


def _python_can_spell(character: Character) -> bool:
    """Whether every value has a literal spelling (``repr`` of infinity is a name)."""
    table = getattr(character.voice, "sound_instance", None) or {}
    return not any(isinstance(value, float) and math.isinf(value) for value in table.values())


def _toml_can_hold(character: Character) -> bool:
    """TOML has no null: ``None`` inside ``sound_instance`` is refused by convert, rightly."""
    table = getattr(character.voice, "sound_instance", None)
    return table is None or None not in table.values()


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(character=any_character)
def test_any_python_character_converted_by_the_command_reads_back_equal(
    character: Character,
) -> None:
    """Real files each time: the ``.py`` is written, ``convert`` writes the sidecar, and both
    files read back (through the loader's own entry point) as the original character."""
    assume(_python_can_spell(character) and _toml_can_hold(character))
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "any.py"
        source.write_text(_python_source(character), encoding="utf-8")
        assert _character_of(source) == character
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert main(["convert", str(source)]) == 0
        assert _character_of(source.with_suffix(".toml")) == character


def test_source_quoted_in_a_refusal_or_a_note_prints_terminal_controls_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        'import os; "\x1b[2J"\n'
        'CHARACTER_NAME = "Quiz master"\n'
        f"VOICE_SOURCE = {VOICE}\n"
        'INSTRUCTIONS = build("\x1b]0;owned\x07\u202e")\n'
    )
    source = _write(tmp_path / "q\x1b[2J.py", text)
    assert main(["convert", str(source)]) == EXIT_REVIEW_NEEDED
    out, err = capsys.readouterr()
    assert not any(char in out + err for char in "\x1b\x07\u202e")
    assert 'INSTRUCTIONS is a call `build("\\x1b]0;owned\\x07\\u202e")`' in err
    assert "q\\x1b[2J.py:1:1: `import os` is not carried over" in err
    sidecar = source.with_suffix(".toml").read_text(encoding="utf-8")
    assert not any(char in sidecar for char in "\x1b\x07\u202e")
    assert "#   INSTRUCTIONS = build(" in sidecar
