"""CORS for ``/v1/health`` and ``/v1/voices``, and the WebSocket's ``Origin`` check, through a
real server and real requests carrying ``Origin`` headers as a browser sends them."""

from __future__ import annotations

import aiohttp
import pytest

from tests.server.conftest import MakeServer, Server
from unmute_server.server.state import SESSIONS

FRONTEND = "http://localhost:3000"


async def test_an_allowed_page_reads_health_and_voices(server: Server) -> None:
    for path in ("/v1/health", "/v1/voices"):
        response = await server.client.get(path, headers={"Origin": FRONTEND})
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
        assert "Origin" in response.headers.getall("Vary")


async def test_a_page_of_another_origin_gets_no_cors_header(server: Server) -> None:
    response = await server.client.get("/v1/health", headers={"Origin": "http://evil.example"})
    # The answer itself is the same (a browser withholds it from the page).
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers.getall("Vary")
    plain = await server.client.get("/v1/health")
    assert "Access-Control-Allow-Origin" not in plain.headers


async def test_an_allowed_preflight_is_answered(server: Server) -> None:
    response = await server.client.options(
        "/v1/voices",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert response.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == "content-type"
    assert "Access-Control-Max-Age" in response.headers


async def test_a_preflight_from_another_origin_allows_nothing(server: Server) -> None:
    response = await server.client.options(
        "/v1/health",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert not any(name.startswith("Access-Control-") for name in response.headers)


async def test_metrics_are_not_offered_to_pages(server: Server) -> None:
    response = await server.client.get("/metrics", headers={"Origin": FRONTEND})
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_a_star_setting_names_any_origin_back(make_server: MakeServer) -> None:
    server = await make_server(cors_origins=("*",))
    response = await server.client.get("/v1/voices", headers={"Origin": "https://a.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://a.example"


async def test_an_operator_list_replaces_the_loopback_default(make_server: MakeServer) -> None:
    server = await make_server(cors_origins=("https://unmute.example.com",))
    allowed = await server.client.get(
        "/v1/health", headers={"Origin": "https://unmute.example.com"}
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://unmute.example.com"
    loopback = await server.client.get("/v1/health", headers={"Origin": FRONTEND})
    assert "Access-Control-Allow-Origin" not in loopback.headers


async def test_a_websocket_from_an_allowed_page_opens_a_session(server: Server) -> None:
    client = await server.connect(headers={"Origin": FRONTEND}, protocols=("realtime",))
    assert client.ws.protocol == "realtime"
    listed = await client.list()
    assert listed["type"] == "session.characters.listed"


async def test_a_websocket_from_another_page_is_refused_before_the_upgrade(
    server: Server,
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.connect(headers={"Origin": "http://evil.example"})
    assert refused.value.status == 403
    assert len(server.app[SESSIONS]) == 0
    # A client that is not a browser sends no Origin and is let in.
    client = await server.connect()
    assert (await client.list())["type"] == "session.characters.listed"


async def test_a_websocket_origin_is_checked_against_the_operator_list(
    make_server: MakeServer,
) -> None:
    server = await make_server(cors_origins=("https://unmute.example.com",))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.connect(headers={"Origin": FRONTEND})
    assert refused.value.status == 403
    client = await server.connect(headers={"Origin": "https://unmute.example.com"})
    assert (await client.list())["type"] == "session.characters.listed"
