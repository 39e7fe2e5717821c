"""`/health/services`: the gateway asks each service behind it, so one call tells an operator what is down."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import APIRouter, Request

router = APIRouter()


@router.get("/health/services", tags=["health"])
async def services_health(request: Request) -> dict[str, object]:
    settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.http

    async def probe(name: str) -> dict[str, object]:
        url = settings.service_url(name)
        started = time.perf_counter()
        try:
            resp = await client.get(f"{url}/health", timeout=2.0)
            state = "ok" if resp.status_code == 200 else "down"
        except httpx.HTTPError as exc:
            return {"status": "down", "url": url, "detail": f"unreachable ({type(exc).__name__})"}
        return {"status": state, "url": url, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}

    names = ["workflow", "session", "executor"]
    results = await asyncio.gather(*(probe(n) for n in names))
    services: dict[str, object] = {"gateway": {"status": "ok"}, **dict(zip(names, results, strict=True))}
    overall = "ok" if all(r["status"] == "ok" for r in results) else "degraded"
    return {"status": overall, "services": services}
