"""The page at ``/``: served from the package with its security headers, and nothing else."""

from __future__ import annotations

from importlib.resources import files

import pytest

from tests.server.conftest import Server


def _csp_directives(header: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for directive in header.split(";"):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


async def test_the_page_is_served_at_the_root_with_a_strict_content_security_policy(
    server: Server,
) -> None:
    response = await server.client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    html = await response.text()
    assert '<script type="module" src="/page/app.js"></script>' in html
    csp = _csp_directives(response.headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_every_file_of_the_page_in_the_package_is_served_with_its_type(
    server: Server,
) -> None:
    folder = files("unmute_server").joinpath("page")
    names = sorted(entry.name for entry in folder.iterdir() if entry.is_file())
    assert {"index.html", "app.js", "style.css", "capture-worklet.js"} <= set(names)
    for name in names:
        response = await server.client.get(f"/page/{name}")
        assert response.status == 200, name
        assert await response.read() == folder.joinpath(name).read_bytes()
        expected = {
            "js": "text/javascript",
            "css": "text/css",
            "html": "text/html",
            "svg": "image/svg+xml",
        }
        assert response.content_type == expected[name.rpartition(".")[2]], name
        assert "Content-Security-Policy" in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/page/missing.js",
        "/page/..%2F..%2Fsetup.cfg",
        "/page/%2E%2E%2Fserver%2Fpage.py",
        "/page/",
        "/index.html",
    ],
)
async def test_nothing_but_the_pages_files_is_served(server: Server, path: str) -> None:
    response = await server.client.get(path)
    assert response.status == 404
    assert "import" not in await response.text()
