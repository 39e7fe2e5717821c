"""`shared.metrics`: every HTTP answer counted and timed under its route template, never under the raw path."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from shared.metrics import install_metrics


def _app() -> FastAPI:
    app = FastAPI()
    install_metrics(app)

    @app.get("/probe-items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"item_id": item_id}

    @app.post("/probe-broken")
    async def broken() -> None:
        raise RuntimeError("a bug no handler catches")

    return app


def _count(handler: str, method: str, status: str) -> float:
    labels = {"handler": handler, "method": method, "status": status}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


def _timed(handler: str, method: str) -> float:
    labels = {"handler": handler, "method": method}
    return REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) or 0.0


async def test_answers_are_counted_and_timed_by_route_template() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    before = (_count("/probe-items/{item_id}", "GET", "200"), _timed("/probe-items/{item_id}", "GET"))
    missing, broken = _count("none", "GET", "404"), _count("/probe-broken", "POST", "500")
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        for _ in range(3):
            assert (await client.get(f"/probe-items/{uuid.uuid4()}")).status_code == 200
        assert (await client.get("/no-such-route")).status_code == 404
        assert (await client.post("/probe-broken")).status_code == 500
        exposition = (await client.get("/metrics")).text
    assert _count("/probe-items/{item_id}", "GET", "200") == before[0] + 3
    assert _timed("/probe-items/{item_id}", "GET") == before[1] + 3
    assert _count("none", "GET", "404") == missing + 1
    assert _count("/probe-broken", "POST", "500") == broken + 1
    # The scrape serves the registry, and is not counted itself.
    assert 'http_requests_total{handler="/probe-items/{item_id}",method="GET",status="200"}' in exposition
    assert 'handler="/metrics"' not in exposition
    assert not re.search(r"probe-items/[0-9a-f]{8}-", exposition)  # no raw path, no id, ever a label
