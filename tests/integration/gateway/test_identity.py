"""Identity against a real PostgreSQL, with the gateway app in process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway.app import create_app
from shared.settings import get_settings
from tests.support.apps import running_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app, wait_broker=False) as c:
        yield c


async def test_concurrent_registrations_of_one_email_give_one_account(client: httpx.AsyncClient) -> None:
    email = f"race-{uuid.uuid4().hex[:8]}@example.com"
    responses = await asyncio.gather(
        *(client.post("/auth/register", json={"email": email, "password": f"password-{i}"}) for i in range(8))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 7


async def test_seeded_admin_cannot_log_in_without_a_password(client: httpx.AsyncClient) -> None:
    r = await client.post("/auth/login", json={"email": "admin@echoai.local", "password": "anything-at-all"})
    assert r.status_code == 401


async def test_validation_errors_are_422_in_the_documented_shape(client: httpx.AsyncClient) -> None:
    r = await client.post("/auth/register", json={"email": "not-an-email", "password": "short"})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "validation_error"
    assert "email" in body["detail"] and "password" in body["detail"]
    r = await client.post("/auth/register", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "not valid JSON" in r.json()["detail"]


async def test_optional_enforcement_acts_as_the_anonymous_user(database_url: str) -> None:
    settings = get_settings().model_copy(update={"auth_enforcement": "optional"})
    async with running_app(lambda: create_app(settings), wait_broker=False) as client:
        r = await client.get("/auth/me")
        assert r.status_code == 200
        assert r.json()["user_id"] == "00000000-0000-0000-0000-000000000000"
        # A token that is present but bad is still refused.
        r = await client.get("/auth/me", headers={"Authorization": "Bearer nonsense"})
        assert r.status_code == 401


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    r = await client.get("/health", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert len((await client.get("/health")).headers["x-request-id"]) == 32
