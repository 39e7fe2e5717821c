"""Upstreams that break connections the way a failing service does, for the gateway's proxy tests.

`flaky_app` is served by uvicorn in a process of its own: an unhandled exception makes uvicorn answer 500 and
then close the connection, the real cause of dead pooled connections. `DroppingUpstream` is a plain asyncio
HTTP/1.1 server that makes the same situation deterministic: after it answers `/workflows/boom` (500, keep-alive),
the next request on that connection is read and answered with a TCP reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.platform import ROOT, free_port

BOOM = "/workflows/boom"
OK_BODY = b'{"items":[],"next_cursor":null}'
ERROR_BODY = b'{"error":"internal_error","detail":"Something went wrong on our side."}'


async def _workflows(_: Request) -> JSONResponse:
    return JSONResponse({"items": [], "next_cursor": None})


async def _boom(_: Request) -> JSONResponse:
    raise RuntimeError("a bug in the service")


flaky_app = Starlette(
    routes=[
        Route("/workflows", _workflows, methods=["GET", "POST", "PUT", "DELETE"]),
        Route(BOOM, _boom, methods=["GET", "POST"]),
    ]
)


@contextlib.contextmanager
def flaky_process(timeout: float = 30) -> Iterator[str]:
    """`flaky_app` under uvicorn in its own process; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.support.upstreams:flaky_app", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{url}/workflows", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the flaky upstream did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


Head = list[tuple[str, str]]


async def read_request(reader: asyncio.StreamReader) -> tuple[str, Head, bytes]:
    """One HTTP/1.1 request off a kept-alive connection: its request line, its headers (names lowercased) and its
    body (by Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [(n.strip().lower(), v.strip()) for n, _, v in (x.partition(":") for x in lines[1:] if x)]
    length = int(dict(headers).get("content-length", "0"))
    return lines[0], headers, await reader.readexactly(length) if length else b""


class _LoopbackServer:
    """A plain asyncio HTTP/1.1 server on a free loopback port; subclasses answer in `_handle`."""

    url = ""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with server:
            yield self.url
            server.close()


class DroppingUpstream(_LoopbackServer):
    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        poisoned = False
        try:
            while True:
                request_line, _, _ = await read_request(reader)
                method, target, _ = request_line.split(" ", 2)
                path = target.split("?", 1)[0]
                self.seen[(method, path)] += 1
                if poisoned:
                    # SO_LINGER 0: close() sends RST, so the client's read fails with a reset.
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                status, body = ("500 Internal Server Error", ERROR_BODY) if path == BOOM else ("200 OK", OK_BODY)
                reply = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
                writer.write(reply.encode() + body)
                await writer.drain()
                poisoned = path == BOOM
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@contextlib.asynccontextmanager
async def gateway_before(upstream: DroppingUpstream | RecordingUpstream) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway in process, with `upstream` serving as the workflow service."""
    from services.gateway.app import create_app  # the gateway only where a test asks for it
    from shared.settings import get_settings
    from tests.support.apps import running_app

    async with upstream.serving() as url:
        settings = get_settings().model_copy(update={"workflow_url": url})
        async with running_app(lambda: create_app(settings), wait_broker=False) as client:
            yield client


class RecordingUpstream(_LoopbackServer):
    """A plain HTTP/1.1 server that keeps every request's head and answers each with two `set-cookie` headers (a
    DELETE with a bare 204), so a test sees exactly what the proxy sent and what it hands back."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Head, bytes]] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line, headers, body = await read_request(reader)
                self.requests.append((request_line, headers, body))
                if request_line.startswith("DELETE "):
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                    await writer.drain()
                    continue
                reply = (
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nset-cookie: a=1; Path=/\r\n"
                    f"set-cookie: b=2; Path=/\r\ncontent-length: {len(OK_BODY)}\r\n\r\n"
                )
                writer.write(reply.encode() + OK_BODY)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
