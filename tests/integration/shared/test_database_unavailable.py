"""PostgreSQL out of reach, three ways, without touching the real server: nobody listening, a server that says it
is starting up (what clients see while PostgreSQL stops or starts), and one that accepts and never answers.
Every service answers 503 `database_unavailable` with a sentence, never a 500."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.executor.app import create_app as create_executor
from services.gateway.app import create_app as create_gateway
from services.session.app import create_app as create_session
from services.workflow.app import create_app as create_workflow
from shared.settings import Settings, get_settings
from tests.support.apps import running_app
from tests.support.auth import headers_for
from tests.support.platform import free_port

pytestmark = pytest.mark.integration


def _error_response(sqlstate: str, message: str) -> bytes:
    fields = b"".join(
        kind + value.encode() + b"\0" for kind, value in [(b"S", "FATAL"), (b"C", sqlstate), (b"M", message)]
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


@contextlib.asynccontextmanager
async def fake_postgres(reply: bytes | None) -> AsyncIterator[int]:
    """A TCP server on a free port: refuses SSL, then answers the startup message with `reply` (or never)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while True:
                header = await reader.readexactly(4)
                rest = await reader.readexactly(struct.unpack("!I", header)[0] - 4)
                if rest[:4] == struct.pack("!I", 80877103):  # SSLRequest
                    writer.write(b"N")
                    await writer.drain()
                    continue
                if reply is None:
                    await asyncio.sleep(3600)
                writer.write(reply)
                await writer.drain()
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def _settings(port: int) -> Settings:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/echoai"
    return get_settings().model_copy(update={"database_url": url})


FACTORIES: dict[str, tuple[Callable[..., FastAPI], str, str]] = {
    "gateway": (create_gateway, "POST", "/auth/login"),
    "workflow": (create_workflow, "GET", "/workflows"),
    "session": (create_session, "POST", "/sessions"),
    "executor": (create_executor, "GET", "/executions"),
}


async def _ask(service: str, port: int, tmp_path: Path) -> httpx.Response:
    factory, method, path = FACTORIES[service]
    kwargs: dict[str, Any] = {"fs_root": tmp_path} if service == "workflow" else {}
    async with running_app(lambda: factory(_settings(port), **kwargs)) as client:
        body = {"email": "nobody@example.com", "password": "whatever1"} if service == "gateway" else {}
        return await client.request(
            method, path, json=body if method == "POST" else None, headers=headers_for(uuid.uuid4())
        )


def _is_database_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert set(r.json()) == {"error", "detail"}
    assert r.json()["error"] == "database_unavailable"
    assert r.json()["detail"].endswith(".")


@pytest.mark.parametrize("service", sorted(FACTORIES))
async def test_nobody_listening(database_url: str, service: str, tmp_path: Path) -> None:
    _is_database_unavailable(await _ask(service, free_port(), tmp_path))


@pytest.mark.parametrize("service", ["workflow", "gateway"])
async def test_postgresql_starting_up_or_shutting_down(database_url: str, service: str, tmp_path: Path) -> None:
    for sqlstate, message in [("57P03", "the database system is starting up"), ("57P01", "terminating connection")]:
        async with fake_postgres(_error_response(sqlstate, message)) as port:
            _is_database_unavailable(await _ask(service, port, tmp_path))


async def test_postgresql_not_answering(database_url: str, tmp_path: Path) -> None:
    """The driver's connect timeout (5 s) runs out: still a 503, not a 500 and not a hang."""
    async with fake_postgres(None) as port:
        r = await asyncio.wait_for(_ask("session", port, tmp_path), 30)
    _is_database_unavailable(r)
