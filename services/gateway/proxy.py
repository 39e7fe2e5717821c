"""Reverse proxy to the other services by path prefix, with one pooled httpx client."""

from __future__ import annotations

import logging
from typing import Literal

import httpx
from fastapi import Request
from fastapi.responses import Response

from shared.errors import BadGateway, GatewayTimeout, NotFound, PayloadTooLarge
from shared.logging import request_id_var
from shared.settings import Settings

log = logging.getLogger("echoai.gateway.proxy")

Upstream = Literal["workflow", "session", "executor"]

# Most specific first: chat/send belongs to the executor although it lives under /workflows.
ROUTES: tuple[tuple[str, Upstream], ...] = (
    ("/workflows/chat/", "executor"),
    ("/workflows", "workflow"),
    ("/agents", "workflow"),
    ("/tools", "workflow"),
    ("/sessions", "session"),
    ("/executions", "executor"),
    ("/checkpoints", "executor"),
)
MAX_BODY = 16 * 1024 * 1024
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def upstream_for(path: str) -> Upstream | None:
    for prefix, upstream in ROUTES:
        if path == prefix.rstrip("/") or path.startswith(prefix if prefix.endswith("/") else prefix + "/"):
            return upstream
    return None


def make_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.proxy_timeout_seconds, connect=2.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=5.0),
        follow_redirects=False,
    )


async def forward(request: Request) -> Response:
    path = request.url.path
    upstream = upstream_for(path)
    if upstream is None:
        raise NotFound("No such endpoint; check the path against the API documentation at /docs.")
    settings: Settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.http
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise PayloadTooLarge(f"The request body is over {MAX_BODY // (1024 * 1024)} MiB.")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"The request body is over {MAX_BODY // (1024 * 1024)} MiB.")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["x-request-id"] = request_id_var.get() or ""
    if request.client:
        headers["x-forwarded-for"] = request.client.host
    url = settings.service_url(upstream) + path
    try:
        try:
            resp = await client.request(request.method, url, params=request.url.query, content=body, headers=headers)
        except httpx.RemoteProtocolError:
            # A pooled connection the upstream closed under us; reads are safe to send once more.
            if request.method not in ("GET", "HEAD"):
                raise
            resp = await client.request(request.method, url, params=request.url.query, content=body, headers=headers)
    except httpx.TimeoutException:
        log.warning("%s did not answer %s %s in time", upstream, request.method, path)
        raise GatewayTimeout(
            f"The {upstream} service did not answer in time; try again, and check its health at /health/services.",
            error="upstream_timeout",
        ) from None
    except httpx.TransportError as exc:
        log.warning("%s is unreachable for %s %s: %s", upstream, request.method, path, type(exc).__name__)
        raise BadGateway(
            f"The {upstream} service is unreachable; check /health/services and start it.",
            error="upstream_unavailable",
        ) from None
    out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
    return Response(content=resp.content, status_code=resp.status_code, headers=out_headers)
