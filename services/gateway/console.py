"""The browser console: static files under `console/`, served at `/console/` with a strict
Content-Security-Policy (scripts and styles from this origin only, no inline code, no frames)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_DIR = Path(__file__).parent / "console"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
]


class _SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _to_console(_: object) -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


def mount_console(app: FastAPI) -> None:
    """Serve the console; placed first so the proxy's catch-all route never sees `/console`."""
    static = _SecurityHeaders(StaticFiles(directory=CONSOLE_DIR, html=True))
    app.router.routes[0:0] = [Route("/console", _to_console), Mount("/console", app=static, name="console")]
