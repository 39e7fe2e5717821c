"""The catch-all route: every path the gateway does not serve itself goes to the service that owns it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.gateway.api.deps import ProxyDep

router = APIRouter()
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@router.api_route("/{path:path}", methods=_METHODS, include_in_schema=False)
async def proxy(request: Request, path: str, upstream: ProxyDep) -> Response:
    return await upstream.forward(request)
