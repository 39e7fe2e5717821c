"""What the gateway's endpoints take from the app and the request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.clients import ServiceProbe
from services.gateway.fanout.hub import Hub
from services.gateway.proxy import Proxy
from services.gateway.repository import UserRepository
from services.gateway.service import IdentityService, LoginLimiter, RunSends, RunStepsService, ServicesHealth
from shared.db import DbSession


# `async` so FastAPI calls these on the event loop: a plain `def` dependency costs a worker-thread hop per request.
async def get_identity(request: Request, db: DbSession) -> IdentityService:
    settings = request.app.state.settings
    limiter = LoginLimiter(request.app.state.sessionmaker, settings)
    return IdentityService(UserRepository(db), settings, limiter)


async def get_run_steps(request: Request) -> RunStepsService:
    hub: Hub = request.app.state.fanout
    return RunStepsService(hub.registry, hub.executor)


async def get_services_health(request: Request) -> ServicesHealth:
    return ServicesHealth(ServiceProbe(request.app.state.http, request.app.state.settings))


async def get_proxy(request: Request) -> Proxy:
    return Proxy(request.app.state.http, request.app.state.settings)


async def get_run_sends(request: Request, proxy: Annotated[Proxy, Depends(get_proxy)]) -> RunSends:
    hub: Hub = request.app.state.fanout
    return RunSends(proxy, hub.executor, request.app.state.settings)


async def client_address(request: Request) -> str:
    """The socket peer, as uvicorn reports it: rewritten from X-Forwarded-For only for the reverse proxies named
    in `ECHO_FORWARDED_ALLOW_IPS`, so a client cannot choose the address its failed logins count against."""
    return request.client.host if request.client else "unknown"


IdentityDep = Annotated[IdentityService, Depends(get_identity)]
RunStepsDep = Annotated[RunStepsService, Depends(get_run_steps)]
ServicesHealthDep = Annotated[ServicesHealth, Depends(get_services_health)]
ProxyDep = Annotated[Proxy, Depends(get_proxy)]
RunSendsDep = Annotated[RunSends, Depends(get_run_sends)]
ClientAddress = Annotated[str, Depends(client_address)]
