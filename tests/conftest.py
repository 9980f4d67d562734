"""Test-wide settings.

Hypothesis's default 200 ms deadline per example measures the machine, not the code: on a
busy two-core CI runner a parse that takes 5 ms alone can take 300 ms, and the test would
fail for that. Tests here never assert time (speed lives in ``make bench``), so the
deadline is off; every other Hypothesis default stays.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

settings.register_profile("unmute", deadline=None)
settings.load_profile("unmute")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        default="test-output/screenshots",
        metavar="DIR",
        help="where the browser tests save a screenshot of each state of the page "
        "(default: test-output/screenshots, git-ignored)",
    )
