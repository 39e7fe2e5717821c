"""Bad input at the gateway's own edge: paths it will not forward, bounded auth bodies, and the error shape
for anything unexpected. The services behind it are one recording upstream (it must not be contacted)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.gateway.app import create_app
from shared.settings import get_settings
from tests.support.auth import headers_for
from tests.support.upstreams import DroppingUpstream

pytestmark = pytest.mark.integration

USER = headers_for(uuid.uuid4())


@pytest.fixture
async def upstream() -> AsyncIterator[DroppingUpstream]:
    up = DroppingUpstream()
    async with up.serving():
        yield up


@pytest.fixture
async def client(database_url: str, upstream: DroppingUpstream) -> AsyncIterator[httpx.AsyncClient]:
    urls = {f"{name}_url": upstream.url for name in ("workflow", "session", "executor")}
    app = create_app(get_settings().model_copy(update=urls))
    async with app.router.lifespan_context(app):
        # Unhandled exceptions reach the client as the 500 the gateway sends, not as a raise in the test.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


def assert_error_shape(r: httpx.Response, status: int) -> dict[str, str]:
    assert r.status_code == status, r.text
    body: dict[str, str] = r.json()
    assert set(body) == {"error", "detail"} and body["detail"]
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/workflows/%00"),
        ("GET", "/workflows/%00/versions"),
        ("PUT", "/agents/%0A"),
        ("DELETE", "/tools/a%7Fb"),
        ("GET", "/sessions/%1F/messages"),
        ("POST", "/executions/%00/cancel"),
        ("POST", "/workflows/chat/%00"),
        ("GET", "/workflows/" + "a" * 3000),
    ],
)
async def test_paths_the_gateway_will_not_forward_are_422(
    client: httpx.AsyncClient, upstream: DroppingUpstream, method: str, path: str
) -> None:
    body = assert_error_shape(await client.request(method, path, headers=USER), 422)
    # NUL is refused by the input guard every service has (`invalid_text`), other control characters by the
    # proxy's own path check; either way the detail names the path and nothing reaches a service.
    assert body["error"] in ("validation_error", "invalid_text") and body["detail"].startswith("path")
    assert sum(upstream.seen.values()) == 0


@pytest.mark.parametrize("path", ["/workflows/%2E%2E/metrics", "/sessions/%2E/x", "/agents/%2e/%2e%2e/health"])
async def test_dot_segments_are_404(client: httpx.AsyncClient, upstream: DroppingUpstream, path: str) -> None:
    assert_error_shape(await client.get(path, headers=USER), 404)
    assert sum(upstream.seen.values()) == 0


async def test_the_path_is_forwarded_as_sent(client: httpx.AsyncClient, upstream: DroppingUpstream) -> None:
    # An encoded slash stays inside its segment; a query NUL is refused by the gateway's own input guard.
    assert (await client.get("/workflows/a%2Fb", headers=USER)).status_code == 200
    assert (await client.get("/workflows/caf%C3%A9", headers=USER)).status_code == 200
    refused = assert_error_shape(await client.get("/tools?tag=%00", headers=USER), 422)
    assert refused["error"] == "invalid_text" and "query.tag" in refused["detail"]
    assert upstream.seen[("GET", "/workflows/a%2Fb")] == 1
    assert upstream.seen[("GET", "/workflows/caf%C3%A9")] == 1
    assert ("GET", "/tools") not in upstream.seen


async def test_an_unhandled_exception_in_the_gateway_is_a_json_500(client: httpx.AsyncClient) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug")

    app: FastAPI = client.app  # type: ignore[attr-defined]
    app.router.routes.insert(0, APIRoute("/broken-for-this-test", broken))
    body = assert_error_shape(await client.get("/broken-for-this-test"), 500)
    assert body["error"] == "internal_error"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/auth/register", {"email": "a" * 400 + "@example.com", "password": "long-enough"}, "email"),
        ("/auth/register", {"email": "ok@example.com", "password": "p" * 257}, "password"),
        ("/auth/register", {"email": "ok@example.com", "password": "short"}, "password"),
        (
            "/auth/register",
            {"email": "ok@example.com", "password": "long-enough", "display_name": "d" * 201},
            "display_name",
        ),
        ("/auth/register", {"email": "ok@example.com", "password": "long-enough", "role": "admin"}, "role"),
        ("/auth/login", {"email": "e" * 321, "password": "whatever"}, "email"),
        ("/auth/login", {"email": "ok@example.com", "password": "p" * 100_000}, "password"),
        ("/auth/login", {"email": "ok@example.com", "password": ""}, "password"),
        ("/auth/login", {"email": "", "password": "whatever"}, "email"),
    ],
)
async def test_auth_bodies_are_bounded(client: httpx.AsyncClient, path: str, body: dict[str, str], field: str) -> None:
    got = assert_error_shape(await client.post(path, json=body), 422)
    assert got["error"] == "validation_error" and field in got["detail"]
