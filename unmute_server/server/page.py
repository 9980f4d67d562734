"""The page at ``/``: a person talks to a character, switches packs and reads diagnostics.

The page's files (plain HTML, CSS and ES modules, no build step) ship inside the package,
under ``unmute_server/page/``; they are read once through :mod:`importlib.resources` when the
application is created and served from memory, so only those files can ever be served (no
path from a URL reaches the file system) and the page works offline: nothing loads from
anywhere but this server.

Every answer carries the page's security headers: a Content-Security-Policy that lets only
this origin's scripts, styles and connections in (no inline script, no ``eval``), no framing,
no MIME sniffing and no referrer.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType
from typing import Final

from aiohttp import web

#: Where the page's files live inside the package.
PAGE_PACKAGE: Final = "unmute_server"
PAGE_FOLDER: Final = "page"

#: The page's Content-Security-Policy. ``connect-src 'self'`` covers the same-origin
#: WebSocket; AudioWorklet modules load under ``script-src``.
CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "media-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: Final = MappingProxyType(
    {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
        # A new server version must not run with last version's modules.
        "Cache-Control": "no-cache",
    }
)

_TYPES: Final = {
    ".js": "text/javascript",
    ".html": "text/html",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class PageFile:
    body: bytes
    content_type: str


def read_page_files() -> MappingProxyType[str, PageFile]:
    """Every file of the page, by name, read from the installed package."""
    folder = files(PAGE_PACKAGE).joinpath(PAGE_FOLDER)
    found: dict[str, PageFile] = {}
    for entry in folder.iterdir():
        if not entry.is_file() or entry.name.startswith("."):
            continue
        suffix = "." + entry.name.rpartition(".")[2]
        content_type = _TYPES.get(suffix) or mimetypes.guess_type(entry.name)[0]
        found[entry.name] = PageFile(entry.read_bytes(), content_type or "application/octet-stream")
    if "index.html" not in found:
        raise RuntimeError(f"the package has no {PAGE_FOLDER}/index.html; reinstall it")
    return MappingProxyType(found)


class Page:
    """The two routes of the page: ``/`` and ``/page/{name}``."""

    def __init__(self, page_files: MappingProxyType[str, PageFile]) -> None:
        self._files = page_files

    async def index(self, request: web.Request) -> web.Response:
        return self._answer("index.html")

    async def asset(self, request: web.Request) -> web.Response:
        return self._answer(request.match_info["name"])

    def _answer(self, name: str) -> web.Response:
        page_file = self._files.get(name)
        if page_file is None:
            raise web.HTTPNotFound(text=f"no page file named {name!r}")
        charset = "utf-8" if page_file.content_type.startswith("text/") else None
        return web.Response(
            body=page_file.body,
            content_type=page_file.content_type,
            charset=charset,
            headers=SECURITY_HEADERS,
        )


def add_page_routes(app: web.Application) -> None:
    """Serve the page from ``app``: ``/`` and the files it loads."""
    page = Page(read_page_files())
    app.router.add_get("/", page.index)
    app.router.add_get("/page/{name}", page.asset)
