from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.gateway import redact
from services.gateway.api import auth, proxy, runs
from services.gateway.console import mount_console
from services.gateway.fanout.hub import Hub
from services.gateway.proxy import make_client
from shared.service import create_service_app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.http = make_client(app.state.settings)
    app.state.fanout = hub = Hub(app.state.settings, app.state.broker, app.state.http)
    app.state.broker.on_connect(hub.start)
    hub.start_sweeper()
    try:
        yield
    finally:
        await hub.close()
        await app.state.http.aclose()


def create_app() -> FastAPI:
    # The proxy's catch-all route goes last so the gateway's own routes win.
    app = create_service_app(
        "gateway",
        routers=[auth.router, runs.router, proxy.router],
        extra_lifespan=_lifespan,
        description="The public entry of EchoAI: identity, the API of every service, live step events.",
    )
    redact.install()
    mount_console(app)
    return app
