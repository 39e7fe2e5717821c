from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.gateway import cors, redact, shutdown
from services.gateway.api import auth, docs, health, passthrough, runs
from services.gateway.console import mount_console
from services.gateway.fanout.hub import Hub
from services.gateway.openapi import ApiDocument
from services.gateway.proxy import make_session
from shared.service import create_service_app
from shared.settings import Settings, get_settings


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # One pooled session for the proxy and for the gateway's own calls (`clients.py`, the API document).
    app.state.http = make_session(settings)
    app.state.fanout = hub = Hub(settings, app.state.broker, app.state.http)
    app.state.api_document = ApiDocument(app.openapi, app.state.http, settings.service_url)
    app.state.broker.on_connect(hub.start)
    hub.start_sweeper()
    try:
        with shutdown.websockets_close_first(hub):
            yield
    finally:
        await hub.close()
        await app.state.http.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # The proxy's catch-all route goes last so the gateway's own routes win.
    app = create_service_app(
        "gateway",
        settings=settings,
        uses_broker=True,
        routers=[auth.router, health.router, runs.router, docs.router, passthrough.router],
        extra_lifespan=_lifespan,
        description="The public entry of EchoAI: identity, the API of every service, live step events.\n\n"
        "Live events of a run: `WS /ws/execution/{run_id}?token=<jwt>&after_seq=N` (or a first message "
        '`{"type": "auth", "token": "<jwt>"}`): the events after `after_seq`, then live; closed with 1000 after '
        "the terminal event, 1001 when this gateway stops (reconnect with `after_seq`), 1008 when refused.",
    )
    # FastAPI's own /openapi.json would describe only the gateway's routes; docs.router serves the merged one.
    # (FastAPI's is a plain Starlette route, docs.router's an APIRoute.)
    app.router.routes[:] = [
        route
        for route in app.router.routes
        if isinstance(route, APIRoute) or getattr(route, "path", None) != app.openapi_url
    ]
    cors.install(app, settings)
    redact.install()
    mount_console(app)
    return app
