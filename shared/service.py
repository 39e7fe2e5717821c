"""The app factory every service builds on: logging, errors, request ids, health, the input edge (the 2 MiB
body cap and `shared.validation`), and a lifespan that owns the engine, the cache client and the broker
connection."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware

from shared.cache import Cache
from shared.db import create_engine, make_sessionmaker
from shared.errors import ErrorBoundary, install_error_handlers
from shared.health import router as health_router
from shared.limits import BodySizeLimit
from shared.logging import RequestIdMiddleware, configure_logging
from shared.messaging import Broker
from shared.metrics import install_metrics
from shared.openapi import install_error_docs
from shared.settings import Settings, get_settings
from shared.validation import InputGuard

ExtraLifespan = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[Any]]


def create_service_app(
    name: str,
    *,
    routers: Sequence[APIRouter],
    uses_broker: bool = False,
    uses_cache: bool = False,
    extra_lifespan: ExtraLifespan | None = None,
    description: str = "",
    settings: Settings | None = None,
) -> FastAPI:
    """A service opens only the connections it uses: `/health/broker` and `/health/cache` answer `disabled` for
    the others, and `app.state.broker` / `app.state.cache` are None there."""
    settings = settings or get_settings()
    configure_logging(name, settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engine = create_engine(settings)
        app.state.sessionmaker = make_sessionmaker(app.state.engine)
        app.state.cache = Cache(settings) if uses_cache else None
        app.state.broker = Broker(settings, name=f"echoai-{name}") if uses_broker else None
        if app.state.broker is not None:
            app.state.broker.start()
        try:
            if extra_lifespan is not None:
                async with extra_lifespan(app):
                    yield
            else:
                yield
        finally:
            if app.state.broker is not None:
                await app.state.broker.close()
            if app.state.cache is not None:
                app.state.cache.close()
            await app.state.engine.dispose()

    app = FastAPI(title=f"EchoAI {name}", description=description, lifespan=lifespan)
    install_error_handlers(app)
    install_error_docs(app)
    # From the outside in: metrics (added first, outermost) and the request id see every answer; the error
    # boundary catches whatever the middleware below it and the routes raise; the body is capped before the input
    # guard reads it.
    app.add_middleware(RequestIdMiddleware)
    app.user_middleware.append(Middleware(ErrorBoundary))
    app.user_middleware.append(Middleware(BodySizeLimit))
    app.user_middleware.append(Middleware(InputGuard))
    # Before the routers: the gateway's catch-all proxy route must not swallow /metrics.
    install_metrics(app)
    app.include_router(health_router)
    for router in routers:
        app.include_router(router)
    return app
