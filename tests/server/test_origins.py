"""Allowed origins as the operator writes them, and how a browser's ``Origin`` matches them."""

from __future__ import annotations

import pytest

from unmute_server.server.origins import (
    DEFAULT_CORS_ORIGINS,
    origin_allowed,
    origin_problem,
    parse_origins,
)
from unmute_server.server.settings import Settings, SettingsError


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:3000", "http://localhost", "http://127.0.0.1:8080", "http://[::1]:3000"],
)
def test_loopback_origins_on_any_port_are_allowed_by_default(origin: str) -> None:
    assert origin_allowed(origin, DEFAULT_CORS_ORIGINS)


@pytest.mark.parametrize(
    "origin",
    [
        "https://localhost:3000",  # another scheme is another origin
        "http://localhost.evil.example",
        "http://localhost:3000.evil.example",
        "http://evil.example",
        "null",
        "http://localhost:*",  # a pattern is not an origin a browser sends
    ],
)
def test_other_origins_are_not_allowed_by_default(origin: str) -> None:
    assert not origin_allowed(origin, DEFAULT_CORS_ORIGINS)


def test_an_exact_origin_allows_that_origin_only() -> None:
    allowed = parse_origins(" https://unmute.example.com , http://10.0.0.5:3000 ")
    assert allowed == ("https://unmute.example.com", "http://10.0.0.5:3000")
    assert origin_allowed("https://unmute.example.com", allowed)
    assert origin_allowed("http://10.0.0.5:3000", allowed)
    assert not origin_allowed("https://unmute.example.com:8443", allowed)
    assert not origin_allowed("http://10.0.0.5:3001", allowed)


def test_a_star_allows_any_origin() -> None:
    assert origin_allowed("https://anywhere.example", ("*",))
    assert origin_allowed("null", parse_origins("*"))


@pytest.mark.parametrize(
    "raw", ["", " , ", "localhost:3000", "http://localhost:3000/", "HTTP://LOCALHOST", "http://*"]
)
def test_a_list_that_is_not_origins_is_refused_naming_why(raw: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        parse_origins(raw)


def test_the_setting_is_read_from_the_environment_and_checked() -> None:
    env = {"UNMUTE_CORS_ORIGINS": "http://localhost:3000,https://app.example"}
    settings = Settings.from_environment(env)
    assert settings.cors_origins == ("http://localhost:3000", "https://app.example")
    assert Settings.from_environment({}).cors_origins == DEFAULT_CORS_ORIGINS
    with pytest.raises(SettingsError, match="UNMUTE_CORS_ORIGINS"):
        Settings.from_environment({"UNMUTE_CORS_ORIGINS": "app.example"})
    with pytest.raises(SettingsError, match="cors_origins"):
        Settings(cors_origins=("http://x/path",))
    assert origin_problem("*") is None
