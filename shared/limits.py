"""One cap on request bodies, 2 MiB, on every route of every service, enforced before anything parses them.

A pure ASGI middleware: it answers 413 from the Content-Length header alone when that is over the cap, and
otherwise reads the body (chunked included) only up to the cap, then hands the buffered body to the app. So a
body over 2 MiB is a 413 whether it is valid JSON or not, and it is never parsed. The largest thing anyone
sends is a workflow definition; 2 MiB holds hundreds of agents.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PayloadTooLarge, error_response

MAX_BODY_BYTES = 2 * 1024 * 1024


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = f"{self.max_bytes // (1024 * 1024)} MiB" if self.max_bytes >= 1024 * 1024 else f"{self.max_bytes} B"
        detail = f"The request body is over {limit}, the most any request may carry; split it or trim it."
        await error_response(PayloadTooLarge(detail))(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers") or []:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        await self.app(scope, replaying(body, receive), send)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` for the app below a middleware that has read the whole body: the body once, then whatever the
    client sends next (its disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
