"""Which web pages may use this server: CORS for the HTTP routes, and the WebSocket's ``Origin``.

A browser sends ``Origin`` with every cross-origin ``fetch`` and with every WebSocket
handshake, and lets a page read an answer only when the server names that origin back. A
page served from another port (kyutai-labs/unmute's frontend in development) must be allowed
for ``/v1/health`` and ``/v1/voices``; any other page must not be able to open a session in a
visitor's browser, since a WebSocket is not covered by the same-origin policy. One list of
allowed origins, :attr:`Settings.cors_origins`, decides both.

The entries and their matching live in :mod:`unmute_server.server.origins`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from unmute_server.server.origins import origin_allowed

#: The plain HTTP routes a page may read across origins (``/metrics`` is for scrapers only).
CORS_PATHS: frozenset[str] = frozenset({"/v1/health", "/v1/voices"})

#: The WebSocket route whose ``Origin`` is checked before the upgrade.
REALTIME_PATH = "/v1/realtime"

#: How long a browser may cache a preflight answer, in seconds.
PREFLIGHT_MAX_AGE = "600"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def cors_middleware(allowed: tuple[str, ...]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware that answers CORS for :data:`CORS_PATHS` and guards :data:`REALTIME_PATH`.

    An allowed origin gets its own origin named back (with ``Vary: Origin``, so a cache keeps
    answers per origin) and its preflight ``OPTIONS`` answered; any other origin gets the
    route's answer with no CORS header, which the browser then withholds from the page. A
    WebSocket handshake from an origin not allowed is refused with 403 before the upgrade; a
    client that sends no ``Origin`` (not a browser) is let through.
    """

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if request.path == REALTIME_PATH:
            if origin is not None and not origin_allowed(origin, allowed):
                raise web.HTTPForbidden(text="this page's origin may not open a session\n")
            return await handler(request)
        if request.path not in CORS_PATHS:
            return await handler(request)
        permitted = origin is not None and origin_allowed(origin, allowed)
        preflight = request.method == hdrs.METH_OPTIONS
        if preflight and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers:
            response: web.StreamResponse = web.Response(status=204)
            if permitted:
                response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "GET, OPTIONS"
                requested = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS)
                if requested:
                    response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = requested
                response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = PREFLIGHT_MAX_AGE
        else:
            response = await handler(request)
        if permitted and origin is not None:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        # The answer depends on Origin whether or not it was allowed: caches must know.
        response.headers.add(hdrs.VARY, hdrs.ORIGIN)
        return response

    return cors
