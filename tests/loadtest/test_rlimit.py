"""Raising the open-file soft limit."""

from __future__ import annotations

import resource

from unmute_server.loadtest.rlimit import OpenFileLimit, raise_open_file_limit


def test_soft_limit_is_raised_to_the_hard_limit() -> None:
    limit = raise_open_file_limit()
    assert limit is not None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert limit.after == soft
    assert limit.after >= limit.before
    assert hard in (resource.RLIM_INFINITY, soft)


def test_description_says_whether_it_changed() -> None:
    assert "raised from 1024 to 20000" in OpenFileLimit(1024, 20000, 20000).describe()
    assert "unchanged" in OpenFileLimit(20000, 20000, 20000).describe()
