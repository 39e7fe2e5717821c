"""Which browser origins may use the gateway: CORS for HTTP, an `Origin` check for WebSockets.

`ECHO_CORS_ORIGINS` lists them (empty: same-origin only). Credentials (the `Authorization` header) are allowed,
so `*` is refused when the settings are read: a wildcard with credentials would hand every site on the web the
user's session.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket

from shared.settings import Settings

ALLOWED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-Request-ID"]
EXPOSED_HEADERS = ["X-Request-ID", "Retry-After", "WWW-Authenticate"]


class _CORS(CORSMiddleware):
    """Starlette's, except that a preflight from an origin not listed gets no CORS header at all (Starlette's
    still lists the allowed methods and headers), so nothing about the policy is told to a stranger."""

    def preflight_response(self, request_headers: Headers) -> Response:
        if not self.is_allowed_origin(origin=request_headers["origin"]):
            return PlainTextResponse("Disallowed CORS origin", status_code=400, headers={"Vary": "Origin"})
        return super().preflight_response(request_headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Last added, so outermost: a preflight is answered before any other middleware or route sees it."""
    if not settings.cors_origin_list:
        return  # same-origin only: no CORS headers at all
    app.add_middleware(
        _CORS,
        allow_origins=settings.cors_origin_list,
        allow_credentials=True,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )


def websocket_origin_allowed(ws: WebSocket, settings: Settings) -> bool:
    """No `Origin` (a CLI, a server) is fine; a browser's must be the gateway's own origin or a listed one."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if origin in settings.cors_origin_list:
        return True
    scheme = "https" if ws.url.scheme == "wss" else "http"
    host = ws.headers.get("host", "").lower()
    return bool(host) and origin == f"{scheme}://{host}"
