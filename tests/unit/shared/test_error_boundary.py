"""A bug in one request is a 500 in the error shape and nothing more: served by uvicorn, the connection stays open
for the next request, so a proxy that pooled it never hands the failure on to whoever sends next."""

from __future__ import annotations

import asyncio
import http.client
import json

from fastapi import APIRouter

from shared.service import create_service_app
from tests.support.platform import free_port


def _probe_app() -> object:
    router = APIRouter()

    @router.get("/broken")
    async def broken() -> dict[str, str]:
        raise RuntimeError("a bug")

    @router.get("/fine")
    async def fine() -> dict[str, str]:
        return {"status": "fine"}

    return create_service_app("probe", routers=[router])


def _two_requests_on_one_connection(port: int) -> list[tuple[int, dict[str, str], str | None]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    answers = []
    try:
        for path in ("/broken", "/fine", "/broken", "/fine"):
            conn.request("GET", path)
            response = conn.getresponse()
            answers.append((response.status, json.loads(response.read()), response.getheader("connection")))
    finally:
        conn.close()
    return answers


async def test_an_unhandled_error_keeps_the_connection_open() -> None:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_probe_app(), host="127.0.0.1", port=port, log_config=None))  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:
                await asyncio.sleep(0.02)
        answers = await asyncio.to_thread(_two_requests_on_one_connection, port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
    assert [status for status, _, _ in answers] == [500, 200, 500, 200]
    assert answers[0][1]["error"] == "internal_error" and set(answers[0][1]) == {"error", "detail"}
    assert all(connection != "close" for _, _, connection in answers)
