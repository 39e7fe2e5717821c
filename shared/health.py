"""`/health`, `/health/db`, `/health/cache`, `/health/broker` for every service."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


def _answer(state: str, detail: str | None = None) -> JSONResponse:
    body: dict[str, str] = {"status": state}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=503 if state == "down" else 200)


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/db")
async def health_db(request: Request) -> JSONResponse:
    try:
        async with asyncio.timeout(3):
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return _answer("down", f"PostgreSQL is not answering ({type(exc).__name__}).")
    return _answer("ok")


@router.get("/health/cache")
async def health_cache(request: Request) -> JSONResponse:
    cache = request.app.state.cache
    if cache is None:
        return _answer("disabled", "this service does not use the cache")
    state, detail = await cache.state()
    return _answer(state, detail)


@router.get("/health/broker")
async def health_broker(request: Request) -> JSONResponse:
    broker = request.app.state.broker
    if broker is None:
        return _answer("disabled", "this service does not use the broker")
    state, detail = await broker.state()
    return _answer(state, detail)
