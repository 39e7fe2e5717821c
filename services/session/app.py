from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.session import consumer
from services.session.api import messages, sessions
from services.session.caching import drops_in_flight
from shared.service import create_service_app
from shared.settings import Settings


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Consumers are attached once the broker is up; aio-pika's robust connection restores them after a reconnect.
    app.state.broker.on_connect(lambda: consumer.start(app))
    try:
        yield
    finally:
        await consumer.stop(app)
        # The last writes' cache deletes, before the cache client closes under them.
        await asyncio.gather(*drops_in_flight(), return_exceptions=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "session",
        settings=settings,
        uses_broker=True,
        uses_cache=True,
        routers=[sessions.router, messages.router],
        extra_lifespan=_lifespan,
        description="Chat sessions: messages, context, variables, tool selection and per-tool configs, runs.",
    )
