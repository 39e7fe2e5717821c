"""A service app in process, with its real lifespan (real PostgreSQL, RabbitMQ, Memcached)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
from fastapi import FastAPI


@contextlib.asynccontextmanager
async def running_app(factory: Callable[[], FastAPI], *, wait_broker: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    app = factory()
    async with app.router.lifespan_context(app):
        if wait_broker and app.state.broker is not None:
            await app.state.broker.wait_connected(10)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
