"""Test-wide settings.

Hypothesis's default 200 ms deadline per example measures the machine, not the code: on a
busy two-core CI runner a parse that takes 5 ms alone can take 300 ms, and the test would
fail for that. Tests here never assert time (speed lives in ``make bench``), so the
deadline is off; every other Hypothesis default stays.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("unmute", deadline=None)
settings.load_profile("unmute")
