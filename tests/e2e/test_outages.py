"""A stopped service is a quick 502 JSON error through the proxy; Memcached away is reported, not fatal."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.support.auth import headers_for
from tests.support.platform import Platform, free_port, make_platform
from tests.support.servers import Servers

pytestmark = pytest.mark.e2e


@pytest.fixture
def lonely_gateway(database_url: str, servers: Servers, tmp_path) -> Platform:  # type: ignore[no-untyped-def]
    """A gateway whose upstreams point at ports nobody listens on."""
    p = make_platform(database_url, servers.amqp_url, servers.memcached, tmp_path)
    p.ports.update({"workflow": free_port(), "session": free_port(), "executor": free_port()})
    p.env.update({f"ECHO_{n.upper()}_PORT": str(p.ports[n]) for n in ("workflow", "session", "executor")})
    p.start("gateway")
    p.wait_healthy("gateway")
    yield p  # type: ignore[misc]
    p.stop_all()


def test_proxy_to_stopped_service_is_502_json(lonely_gateway: Platform) -> None:
    headers = headers_for(uuid.uuid4())
    for path in ("/workflows", "/sessions", "/executions", "/agents", "/tools"):
        started = time.monotonic()
        r = httpx.get(lonely_gateway.url + path, headers=headers, timeout=10)
        assert r.status_code == 502, (path, r.text)
        assert r.json()["error"] == "upstream_unavailable"
        assert time.monotonic() - started < 3
    services = httpx.get(lonely_gateway.url + "/health/services", timeout=10).json()
    assert services["status"] == "degraded"
    assert services["services"]["workflow"]["status"] == "down"


def test_cache_down_and_disabled(database_url: str, servers: Servers, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The session service is the one that uses Memcached; the others say they do not.
    dead = f"127.0.0.1:{free_port()}"
    p = make_platform(database_url, servers.amqp_url, dead, tmp_path)
    p.start("session")
    p.start("gateway")
    p.wait_healthy("session")
    p.wait_healthy("gateway")
    try:
        r = httpx.get(p.service_url("session") + "/health/cache", timeout=10)
        assert r.status_code == 503
        assert r.json()["status"] == "down"
        # The rest keeps answering.
        assert httpx.get(p.service_url("session") + "/health/db", timeout=10).status_code == 200
        assert (
            httpx.post(p.url + "/auth/login", json={"email": "x@y.io", "password": "whatever1"}, timeout=10).status_code
            == 401
        )
        r = httpx.get(p.url + "/health/cache", timeout=10)
        assert r.status_code == 200
        assert r.json() == {"status": "disabled", "detail": "this service does not use the cache"}
    finally:
        p.stop_all()
    p = make_platform(database_url, servers.amqp_url, servers.memcached, tmp_path, ECHO_CACHE_ENABLED="false")
    p.start("session")
    p.wait_healthy("session")
    try:
        r = httpx.get(p.service_url("session") + "/health/cache", timeout=10)
        assert r.status_code == 200
        assert r.json() == {"status": "disabled"}
    finally:
        p.stop_all()
