"""``unmute-server show``: the rendered prompt, and clear refusals naming the known choices."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from unmute_server.characters.pack import load_pack
from unmute_server.characters.prompts import (
    SPEAKING_STYLE,
    PromptContext,
    language_rule,
    render_system_prompt,
)
from unmute_server.cli import main

REPO = Path(__file__).parents[2]

CONCIERGE = """\
name = "Beatrix"

[voice]
source_type = "file"
path_on_server = "voices/beatrix.wav"

[instructions]
type = "template"
text = "You are {name}. It is {weekday} {date}, {time} in {timezone}."
"""

ANCHOR = """\
name = "Harriet"

[voice]
source_type = "file"
path_on_server = "voices/harriet.wav"

[instructions]
type = "news"
"""

BROKEN = 'name = "Broken"\n'


@pytest.fixture
def packs_root(tmp_path: Path) -> Path:
    root = tmp_path / "packs"
    (root / "hotel").mkdir(parents=True)
    (root / "hotel" / "concierge.toml").write_text(CONCIERGE, encoding="utf-8")
    (root / "hotel" / "anchor.toml").write_text(ANCHOR, encoding="utf-8")
    (root / "hotel" / "broken.toml").write_text(BROKEN, encoding="utf-8")
    (root / "radio").mkdir()
    return root


def _show(packs_root: Path, *args: str) -> int:
    return main(["show", "--packs-root", str(packs_root), *args])


def test_prints_the_rendered_prompt_for_the_given_time_and_zone(
    packs_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _show(
        packs_root, "hotel", "Beatrix", "--now", "2026-11-24T14:05", "--timezone", "Europe/Paris"
    )
    assert code == 0
    assert capsys.readouterr() == (
        "You are Beatrix. It is Tuesday 2026-11-24, 14:05 in Europe/Paris.\n\n"
        f"{SPEAKING_STYLE}\n\n{language_rule('en')}\n",
        "",
    )


def test_a_time_with_an_offset_is_converted_into_the_zone(
    packs_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _show(
        packs_root,
        "hotel",
        "Beatrix",
        "--now",
        "2026-11-24T23:30:00+00:00",
        "--timezone",
        "Asia/Tokyo",
    )
    assert code == 0
    assert capsys.readouterr().out.startswith(
        "You are Beatrix. It is Wednesday 2026-11-25, 08:30 in Asia/Tokyo.\n"
    )


def test_language_and_headlines_reach_the_prompt(
    packs_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _show(
        packs_root,
        "hotel",
        "Harriet",
        "--now",
        "2026-11-24T08:00",
        "--language",
        "de",
        "--headline",
        "Ferry service resumes",
        "--headline",
        "Harbour festival this weekend",
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "\n- Ferry service resumes\n- Harbour festival this weekend\n" in out
    assert f"\n\n{language_rule('de')}\n\n" in out


def test_output_is_what_a_session_renders_for_the_same_seed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    zone = ZoneInfo("Europe/Paris")
    for seed in (1, 2, 3):
        assert (
            main(
                [
                    "show",
                    "default",
                    "Nova",
                    "--seed",
                    str(seed),
                    "--now",
                    "2026-11-24T14:05",
                    "--timezone",
                    "Europe/Paris",
                    "--packs-root",
                    str(REPO / "character_packs"),
                ]
            )
            == 0
        )
        context = PromptContext(
            now=datetime(2026, 11, 24, 14, 5, tzinfo=zone), timezone="Europe/Paris", seed=seed
        )
        nova = load_pack(REPO / "character_packs" / "default", "default")["Nova"]
        assert capsys.readouterr().out == render_system_prompt(nova, context) + "\n"


def test_unknown_pack_exits_2_with_a_suggestion_and_the_known_packs(
    packs_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _show(packs_root, "hotle", "Beatrix") == 2
    assert capsys.readouterr() == (
        "",
        "unmute-server show: pack 'hotle' does not exist; did you mean 'hotel'?\n"
        "known packs: 'hotel', 'radio'\n",
    )


def test_a_pack_name_leaving_the_root_is_refused(
    packs_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _show(packs_root, "../hotel", "Beatrix") == 2
    err = capsys.readouterr().err
    assert err.startswith("unmute-server show: pack name '../hotel' contains a path separator")
    assert str(packs_root) not in err


def test_unknown_character_exits_2_with_a_suggestion_and_the_pack_errors_hint(
    packs_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _show(packs_root, "hotel", "beatrix") == 2
    assert capsys.readouterr().err == (
        "unmute-server show: pack 'hotel' has no character named 'beatrix'; "
        "did you mean 'Beatrix'?\n"
        "known characters: 'Harriet', 'Beatrix'\n"
        "the pack has errors, which may hide a character; see: unmute-server lint "
        f"{packs_root / 'hotel'}\n"
    )


def test_a_pack_without_characters_says_so(
    packs_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _show(packs_root, "radio", "Anyone") == 2
    assert capsys.readouterr().err.startswith(
        "unmute-server show: pack 'radio' has no character named 'Anyone'; "
        "there are no characters\n"
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("--timezone", "../etc/passwd", "unknown time zone '../etc/passwd'"),
        ("--now", "yesterday", "--now 'yesterday' is not an ISO 8601 time"),
        ("--language", "French", "--language 'French' is not a code like 'en' or 'en/fr'"),
    ],
)
def test_bad_option_values_exit_2_with_what_to_use(
    packs_root: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    assert _show(packs_root, "hotel", "Beatrix", option, value) == 2
    assert capsys.readouterr().err.startswith(f"unmute-server show: {message}")


def test_show_in_a_real_process_from_the_repository() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "unmute_server",
            "show",
            "default",
            "Captain Rowan",
            "--now",
            "2026-11-24T14:05",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("You are Captain Rowan, who sailed cargo ships")
    assert completed.stdout.endswith(f"{language_rule('en')}\n")


def test_a_prompt_holding_terminal_controls_prints_them_as_escapes_and_keeps_its_lines(
    packs_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TOML escapes put any character in a text; ``show`` prints to a terminal."""
    hostile = CONCIERGE.replace(
        'type = "template"\ntext = "You are {name}.',
        'type = "constant"\ntext = "Hi\\u001b[2J\\u009b31m\\u202eyou\\r\\nthere.\\nBye.',
    ).replace(" It is {weekday} {date}, {time} in {timezone}.", "")
    (packs_root / "hotel" / "concierge.toml").write_text(hostile, encoding="utf-8")
    assert _show(packs_root, "hotel", "Beatrix") == 0
    out = capsys.readouterr().out
    assert out.startswith("Hi\\x1b[2J\\x9b31m\\u202eyou\\r\nthere.\nBye.\n")
    assert not any(char in out for char in "\x1b\x9b\u202e\r")


def test_pack_and_root_names_from_disk_are_escaped_in_a_refusal(
    packs_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (packs_root / "evil\x1b[2J\n").mkdir()
    assert _show(packs_root, "hotle", "Beatrix") == 2
    assert capsys.readouterr().err == (
        "unmute-server show: pack 'hotle' does not exist; did you mean 'hotel'?\n"
        "known packs: 'evil\\x1b[2J\\n', 'hotel', 'radio'\n"
    )
    assert _show(packs_root / "gone\x1b[2J", "hotel", "Beatrix") == 2
    err = capsys.readouterr().err
    assert err.endswith(
        "the packs root " + str(packs_root) + "/gone\\x1b[2J cannot be read (see --packs-root)\n"
    )
