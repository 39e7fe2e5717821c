"""Failed-login limits against a real PostgreSQL, with the gateway app in process (replicas: tests/e2e)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway.app import create_app
from shared.settings import get_settings

pytestmark = pytest.mark.integration

PASSWORD = "the-right-password"


@contextlib.asynccontextmanager
async def gateway(address: str, **settings: int) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway seen from one client address (the ASGI peer), with its own login settings."""
    app = create_app(get_settings().model_copy(update=settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            yield client


def a_address() -> str:
    # An address of its own per test (TEST-NET-2), so no two tests share a per-address count.
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}"


async def register(client: httpx.AsyncClient) -> str:
    email = f"guess-{uuid.uuid4().hex[:10]}@example.com"
    r = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return email


async def login(client: httpx.AsyncClient, email: str, password: str, **headers: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password}, headers=headers)


async def test_account_limit_429_even_for_the_right_password(database_url: str) -> None:
    async with gateway(a_address(), login_max_failures=3, login_window_seconds=120) as client:
        email = await register(client)
        codes = [(await login(client, email, f"wrong-{i}")).status_code for i in range(3)]
        assert codes == [401, 401, 401]
        for password in ("wrong-again", PASSWORD):
            r = await login(client, email, password)
            assert r.status_code == 429, r.text
            assert r.json()["error"] == "too_many_login_attempts" and "try again in" in r.json()["detail"]
            assert 1 <= int(r.headers["retry-after"]) <= 120
        # Another account from the same address is not locked by this one.
        other = await register(client)
        assert (await login(client, other, PASSWORD)).status_code == 200


async def test_a_successful_login_resets_the_account_count(database_url: str) -> None:
    async with gateway(a_address(), login_max_failures=3, login_window_seconds=120) as client:
        email = await register(client)
        # Without the reset the second round would pass the limit of three.
        for _ in range(3):
            assert [(await login(client, email, "wrong")).status_code for _ in range(2)] == [401, 401]
            assert (await login(client, email, PASSWORD)).status_code == 200


async def test_address_limit_is_ten_times_the_account_limit_and_ignores_x_forwarded_for(database_url: str) -> None:
    async with gateway(a_address(), login_max_failures=2, login_window_seconds=120) as client:
        # 20 failures over 10 unknown accounts, each claiming another origin: all count against the peer.
        for i in range(20):
            r = await login(
                client,
                f"nobody-{i}-{uuid.uuid4().hex[:6]}@example.com",
                "wrong",
                **{"X-Forwarded-For": f"203.0.113.{i + 1}"},
            )
            assert r.status_code == 401, (i, r.text)
        email = await register(client)
        r = await login(client, email, PASSWORD, **{"X-Forwarded-For": "203.0.113.200"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "this address" in r.json()["detail"]
    # The same account from another address logs in: the account itself had no failures.
    async with gateway(a_address(), login_max_failures=2, login_window_seconds=120) as client:
        assert (await login(client, email, PASSWORD)).status_code == 200


async def test_the_window_runs_out(database_url: str) -> None:
    async with gateway(a_address(), login_max_failures=1, login_window_seconds=3) as client:
        email = await register(client)
        assert (await login(client, email, "wrong")).status_code == 401
        r = await login(client, email, PASSWORD)
        assert r.status_code == 429
        wait = int(r.headers["retry-after"])
        assert 1 <= wait <= 3
        await asyncio.sleep(wait + 0.2)
        assert (await login(client, email, PASSWORD)).status_code == 200
