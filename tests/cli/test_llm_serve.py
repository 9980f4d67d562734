"""``unmute-server llm-serve``: settings from flags over variables, and refusals before loading.

The run with the real model is tested through the child the server starts
(``tests/llm/test_embedded.py``), which is this command with ``--until-stdin-closes``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from unmute_server.cli import build_parser, main
from unmute_server.cli.llm_serve import build_settings
from unmute_server.llm.settings import EmbeddedLLMSettings


def test_flags_win_over_the_variables() -> None:
    args = build_parser().parse_args(["llm-serve", "--slots", "4", "--max-tokens", "40"])
    env = {"UNMUTE_LLM_SLOTS": "3", "UNMUTE_LLM_THREADS": "2"}
    assert build_settings(args, env) == EmbeddedLLMSettings(slots=4, threads=2, max_tokens=40)


def test_a_bad_flag_exits_2_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["llm-serve", "--slots", "0"]) == 2
    assert "--slots must be a whole number of at least 1" in capsys.readouterr().err


def test_a_model_file_that_is_not_gguf_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model.gguf"
    model.write_text("not a model", encoding="utf-8")
    assert main(["llm-serve", "--model-file", str(model)]) == 2
    assert f"model file '{model}' is not a GGUF file" in capsys.readouterr().err
