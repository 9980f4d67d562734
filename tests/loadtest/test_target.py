"""The load generator only targets loopback unless told otherwise."""

from __future__ import annotations

import pytest

from unmute_server.loadtest.target import TargetError, check_target, is_loopback_host


@pytest.mark.parametrize(
    "url",
    [
        "ws://127.0.0.1:8000/v1/realtime",
        "ws://127.45.6.7/v1/realtime",
        "ws://[::1]:8000/v1/realtime",
        "ws://localhost:9/v1/realtime",
        "wss://LOCALHOST/v1/realtime",
    ],
)
def test_loopback_targets_are_accepted(url: str) -> None:
    assert check_target(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "ws://example.com/v1/realtime",
        "ws://10.0.0.1:8000/v1/realtime",
        "ws://0.0.0.0:8000/v1/realtime",
        "ws://[::ffff:8.8.8.8]/v1/realtime",
        "ws://127.0.0.1.example.com/v1/realtime",
        "ws://localhost.example.com/v1/realtime",
    ],
)
def test_other_hosts_are_refused_with_the_flag_named(url: str) -> None:
    with pytest.raises(TargetError, match=r"not a loopback address.*--allow-remote"):
        check_target(url)


def test_allow_remote_accepts_another_host() -> None:
    assert check_target("ws://example.com/v1/realtime", allow_remote=True)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:8000/v1/realtime", "ws:// or wss://"),
        ("ws:///v1/realtime", "no host"),
        ("ws://127.0.0.1:99999/v1/realtime", "not a valid URL"),
    ],
)
def test_malformed_urls_are_refused_with_the_reason(url: str, problem: str) -> None:
    with pytest.raises(TargetError, match=problem):
        check_target(url, allow_remote=True)


def test_a_host_name_is_never_resolved_to_decide() -> None:
    # "localhost" is the only name accepted; any other name is refused as it stands.
    assert is_loopback_host("localhost")
    assert not is_loopback_host("my-laptop")
