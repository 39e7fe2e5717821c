"""`/health/services` through `ServicesHealth`: every service asked, the answer in its declared shape."""

from __future__ import annotations

import pytest

from services.gateway.app import create_app
from services.gateway.schemas import ServicesHealthOut
from shared.settings import get_settings
from tests.support.apps import running_app
from tests.support.platform import free_port
from tests.support.upstreams import DroppingUpstream

pytestmark = pytest.mark.integration


async def test_one_service_down_is_degraded_and_named(database_url: str) -> None:
    upstream = DroppingUpstream()
    async with upstream.serving() as url:
        nobody = f"http://127.0.0.1:{free_port()}"
        settings = get_settings().model_copy(update={"workflow_url": url, "session_url": url, "executor_url": nobody})
        async with running_app(lambda: create_app(settings), wait_broker=False) as client:
            r = await client.get("/health/services")
    assert r.status_code == 200
    body = r.json()
    ServicesHealthOut.model_validate(body)
    assert body["status"] == "degraded"
    assert body["services"]["gateway"] == {"status": "ok"}
    assert body["services"]["workflow"]["status"] == "ok" and body["services"]["workflow"]["latency_ms"] >= 0
    assert body["services"]["executor"] == {"status": "down", "url": nobody, "detail": "unreachable (cannot connect)"}
    assert upstream.seen[("GET", "/health")] == 2
