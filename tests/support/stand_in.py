"""A stand-in for a service another one calls: an aiohttp server on 127.0.0.1 answering with a test's own routes
(`serving_app`) or with one handler for every request (`serving`), and the aiohttp session a client under test is
given. `down()` is an address where nothing listens."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web

from tests.support.platform import free_port

Handler = Callable[[web.Request], web.StreamResponse | Awaitable[web.StreamResponse]]


def down() -> str:
    """The URL of a service that is not running: connections are refused."""
    return f"http://127.0.0.1:{free_port()}"


@contextlib.asynccontextmanager
async def serving_app(app: web.Application) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """(session, base URL) of a server running `app`."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield http, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """(session, base URL) of a server whose every answer is `handler(request)`."""

    async def route(request: web.Request) -> web.StreamResponse:
        answer = handler(request)
        return await answer if inspect.isawaitable(answer) else answer

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", route)
    async with serving_app(app) as served:
        yield served
