"""Browser origins: CORS preflights at the gateway, and the WebSocket handshake's Origin check."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from shared.messaging import Broker
from shared.settings import Settings
from tests.integration.gateway.conftest import Served, follow, publish, serve_gateway
from tests.support.auth import token_for
from tests.unit.gateway.events import event

pytestmark = pytest.mark.integration

FRONTEND = "http://localhost:5173"
CDN = "https://app.example.com"
FOREIGN = "https://evil.example.net"


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }


async def test_preflight_from_an_allowed_origin_succeeds_and_others_get_no_cors_headers() -> None:
    async with serve_gateway(cors_origins=f"{FRONTEND}, {CDN}/") as gw, httpx.AsyncClient(base_url=gw.url) as http:
        for origin in (FRONTEND, CDN):
            r = await http.options("/workflows", headers=preflight(origin))
            assert r.status_code == 200, r.text
            assert r.headers["access-control-allow-origin"] == origin
            assert r.headers["access-control-allow-credentials"] == "true"
            assert "POST" in r.headers["access-control-allow-methods"]
            assert "authorization" in r.headers["access-control-allow-headers"].lower()

        r = await http.options("/workflows", headers=preflight(FOREIGN))
        assert "access-control-allow-origin" not in r.headers
        assert "access-control-allow-credentials" not in r.headers

        # Actual requests: the allowed origin may read the answer (and X-Request-ID), another may not.
        r = await http.get("/health", headers={"Origin": FRONTEND})
        assert r.headers["access-control-allow-origin"] == FRONTEND
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
        r = await http.get("/health", headers={"Origin": FOREIGN})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


async def test_no_origins_configured_means_same_origin_only(gw: Served) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as http:
        r = await http.options("/workflows", headers=preflight(FRONTEND))
        assert "access-control-allow-origin" not in r.headers
        r = await http.get("/health", headers={"Origin": FRONTEND})
        assert "access-control-allow-origin" not in r.headers


def test_a_wildcard_origin_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="'\\*' is refused"):
        Settings(cors_origins="http://localhost:5173,*")
    with pytest.raises(ValueError, match="not an origin"):
        Settings(cors_origins="localhost:5173")
    with pytest.raises(ValueError, match="not an origin"):
        Settings(cors_origins="https://app.example.com/console")
    assert Settings(cors_origins=" HTTPS://App.example.com/ ,").cors_origin_list == ["https://app.example.com"]


async def test_websocket_from_a_foreign_origin_is_refused(publisher: Broker) -> None:
    owner, run = uuid.uuid4(), uuid.uuid4()
    async with serve_gateway(cors_origins=FRONTEND) as gw:
        await publish(publisher, event(run, owner, 1, "run_started"), event(run, owner, 2, "run_completed"))
        await gw.seen(run, 2)
        url = gw.ws(run, token=token_for(owner))

        with pytest.raises(InvalidStatus) as refused:
            async with asyncio.timeout(10), connect(url, proxy=None, origin=FOREIGN):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403

        # No Origin (a CLI, a server), the gateway's own origin, and a listed one: all follow the run.
        for origin in (None, f"http://127.0.0.1:{gw.port}", FRONTEND):
            async with asyncio.timeout(10), connect(url, proxy=None, origin=origin) as ws:  # type: ignore[arg-type]
                got = [await ws.recv(), await ws.recv()]
                await ws.wait_closed()
            assert len(got) == 2 and ws.close_code == 1000, origin
        assert (await follow(url)).seqs == [1, 2]
