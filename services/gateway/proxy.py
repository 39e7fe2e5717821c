"""Reverse proxy to the other services by path prefix, with one pooled httpx client.

A pooled connection can die between two requests: uvicorn closes a connection after an unhandled exception in
the service, just after answering it, so the next request on that connection (often another user's) would meet
a reset. The client's transport therefore sends an idempotent request (GET, HEAD, PUT, DELETE) once more, on a
connection opened for it, after a read, write or connect error; anything else (POST, PATCH) fails with 502
rather than risk running twice. The failed connection is closed by httpcore and never serves another request.
"""

from __future__ import annotations

import logging
import re
from typing import Literal
from urllib.parse import quote, unquote

import httpx
from fastapi import Request
from fastapi.responses import Response

from shared.errors import BadGateway, BadRequest, GatewayTimeout, NotFound, PayloadTooLarge, Unprocessable
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
    ("/checkpoints", "executor"),  # the approval inbox across runs
)
MAX_BODY = 16 * 1024 * 1024
# Longer paths than any resource of the API has; httpx refuses URLs past 64 KiB anyway.
MAX_PATH = 2048
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
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# What a dead pooled connection looks like: reset (read/write), closed without an answer, or refused.
_DEAD_CONNECTION = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ConnectError)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def upstream_for(path: str) -> Upstream | None:
    for prefix, upstream in ROUTES:
        if path == prefix.rstrip("/") or path.startswith(prefix if prefix.endswith("/") else prefix + "/"):
            return upstream
    return None


class ReconnectingTransport(httpx.AsyncBaseTransport):
    """Pooled connections, and one retry of an idempotent request on a connection of its own."""

    def __init__(self, limits: httpx.Limits):
        self.pooled = httpx.AsyncHTTPTransport(limits=limits)
        # No keep-alive: every request here opens its own connection and closes it after the answer.
        self.fresh = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=50, max_keepalive_connections=0))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self.pooled.handle_async_request(request)
        except _DEAD_CONNECTION as exc:
            # A streamed body cannot be sent twice; the proxy and the clients only send bytes.
            if request.method not in IDEMPOTENT or not isinstance(request.stream, httpx.ByteStream):
                raise
            log.info("retrying %s %s on a new connection: %s", request.method, request.url.path, type(exc).__name__)
            return await self.fresh.handle_async_request(request)

    async def aclose(self) -> None:
        await self.pooled.aclose()
        await self.fresh.aclose()


def make_client(settings: Settings) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=5.0)
    return httpx.AsyncClient(
        transport=ReconnectingTransport(limits),
        timeout=httpx.Timeout(settings.proxy_timeout_seconds, connect=2.0),
        follow_redirects=False,
    )


def forwarded_path(request: Request) -> str:
    """The path as the client sent it (still percent-encoded, so `a%2Fb` stays one segment), once it is one
    the gateway is willing to forward: no control characters, no dot segments, no absurd length."""
    raw = request.scope.get("raw_path")
    # Bytes outside ASCII (a client that did not encode them) are percent-encoded; escapes already there stay.
    path = quote(raw if isinstance(raw, bytes) and raw else request.url.path, safe=_PATH_SAFE)
    decoded = unquote(path)
    if len(path) > MAX_PATH:
        raise Unprocessable(f"path: longer than {MAX_PATH} characters; no EchoAI resource has such a path.")
    if _CONTROL.search(decoded):
        raise Unprocessable(
            "path: contains a control character (such as %00); EchoAI ids and names in paths never do, check the URL."
        )
    if any(segment in (".", "..") for segment in decoded.split("/")):
        raise NotFound("No such endpoint; paths with '.' or '..' segments are not served.")
    return path


class Proxy:
    """Forwards one request to the service that owns its path and hands back its answer unchanged."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings):
        self.http = http
        self.settings = settings

    async def forward(self, request: Request) -> Response:
        upstream = upstream_for(request.url.path)
        if upstream is None:
            raise NotFound("No such endpoint; check the path against the API documentation at /docs.")
        path = forwarded_path(request)
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
        try:
            url = httpx.URL(self.settings.service_url(upstream) + path, query=request.scope.get("query_string") or b"")
        except httpx.InvalidURL as exc:
            raise Unprocessable(f"path: cannot be forwarded ({exc}); check the URL.") from None
        try:
            resp = await self.http.request(request.method, url, content=body, headers=headers)
        except httpx.TimeoutException:
            log.warning("%s did not answer %s %s in time", upstream, request.method, request.url.path)
            raise GatewayTimeout(
                f"The {upstream} service did not answer in time; try again, and check its health at /health/services.",
                error="upstream_timeout",
            ) from None
        except httpx.LocalProtocolError:
            # h11 refuses to write what the client sent (a header it considers malformed).
            raise BadRequest("The request cannot be forwarded as sent; check its headers.") from None
        except httpx.HTTPError as exc:
            log.warning("%s failed for %s %s: %s", upstream, request.method, request.url.path, type(exc).__name__)
            raise BadGateway(
                f"The {upstream} service is unreachable; check /health/services and start it.",
                error="upstream_unavailable",
            ) from None
        out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
        return Response(content=resp.content, status_code=resp.status_code, headers=out_headers)
