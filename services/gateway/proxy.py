"""Reverse proxy to the other services by path prefix, over one pooled aiohttp session (`shared.http`).

A pooled connection can die between two requests: uvicorn closes a connection after an unhandled exception in
the service, just after answering it, so the next request on that connection (often another user's) would meet
a reset. aiohttp then sends an idempotent request (GET, HEAD, PUT, DELETE, OPTIONS) once more, on a new
connection; anything else (POST, PATCH) fails with 502 rather than risk running twice. The failed connection is
closed and never serves another request.
"""

from __future__ import annotations

import logging
import re
from typing import Literal
from urllib.parse import quote, unquote

import aiohttp
from fastapi import Request
from fastapi.responses import Response
from yarl import URL

from shared import http
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
# Longer paths than any resource of the API has.
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
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# A query string as the client sent it, with anything a request line cannot carry (spaces, bytes outside ASCII)
# percent-encoded.
_QUERY_SAFE = _PATH_SAFE + "?"


def upstream_for(path: str) -> Upstream | None:
    for prefix, upstream in ROUTES:
        if path == prefix.rstrip("/") or path.startswith(prefix if prefix.endswith("/") else prefix + "/"):
            return upstream
    return None


def make_session(settings: Settings) -> aiohttp.ClientSession:
    # sock_read: as long as a service may take to answer (a read timeout, as before; no cap on the whole exchange).
    timeout = aiohttp.ClientTimeout(total=None, connect=2.0, sock_read=settings.proxy_timeout_seconds)
    # A body goes on with the client's Content-Type, or none (aiohttp would call it application/octet-stream).
    return http.make_session(timeout=timeout, limit=200, skip_headers=("Content-Type",))


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

    def __init__(self, session: aiohttp.ClientSession, settings: Settings):
        self.session = session
        self.settings = settings

    async def forward(self, request: Request) -> Response:
        # The scope's path, not `request.url`: that URL object (host header parsed, URL rebuilt) is not needed here.
        upstream = upstream_for(request.scope["path"])
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
        query = (request.scope.get("query_string") or b"").decode("latin-1")
        url = self.settings.service_url(upstream) + path + ("?" + quote(query, safe=_QUERY_SAFE) if query else "")
        try:
            async with self.session.request(
                request.method, URL(url, encoded=True), data=body or None, headers=headers, allow_redirects=False
            ) as resp:
                content = await resp.read()
        except TimeoutError:
            log.warning("%s did not answer %s %s in time", upstream, request.method, request.url.path)
            raise GatewayTimeout(
                f"The {upstream} service did not answer in time; try again, and check its health at /health/services.",
                error="upstream_timeout",
            ) from None
        except aiohttp.InvalidURL as exc:
            raise Unprocessable(f"path: cannot be forwarded ({exc}); check the URL.") from None
        except ValueError:
            # aiohttp refuses to write a header value with a line break in it.
            raise BadRequest("The request cannot be forwarded as sent; check its headers.") from None
        except aiohttp.ClientError as exc:
            log.warning("%s failed for %s %s: %s", upstream, request.method, request.url.path, type(exc).__name__)
            raise BadGateway(
                f"The {upstream} service is unreachable; check /health/services and start it.",
                error="upstream_unavailable",
            ) from None
        answer = Response(content=content, status_code=resp.status)
        # The service's headers as it sent them (a repeated one stays repeated), with the length of what is relayed.
        answer.raw_headers = [
            (name, value) for name, value in resp.raw_headers if name.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        if resp.status >= 200 and resp.status not in (204, 304):  # the statuses that never carry a length
            answer.raw_headers.append((b"content-length", str(len(content)).encode()))
        return answer
