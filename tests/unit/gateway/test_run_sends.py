"""chat/send through the gateway: the executor's 202 tells the gateway whose the new run is, so the WebSocket opened
right after it is authorised without asking the executor (busy starting that run)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from services.gateway.clients import ExecutorRuns
from services.gateway.service import RunSends
from shared.auth import issue_token
from shared.settings import Settings
from tests.unit.gateway.events import FakeClock

SETTINGS = Settings(jwt_secret="a-secret-for-the-unit-tests-of-run-sends")  # type: ignore[arg-type]
USER = uuid.UUID("00000000-0000-4000-8000-00000000000a")
RUN = uuid.UUID("00000000-0000-4000-8000-0000000000b1")


def request(token: str | None) -> Request:
    body = json.dumps({"workflow_id": str(uuid.uuid4()), "message": "hi"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/workflows/chat/send",
        "raw_path": b"/workflows/chat/send",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


class FakeProxy:
    """The executor's answer to every forwarded request (the proxy itself is tested against real servers)."""

    def __init__(self, status: int, body: bytes):
        self.status, self.body = status, body
        self.forwarded: list[str] = []

    async def forward(self, request: Request) -> Response:
        self.forwarded.append(f"{request.method} {request.url.path}")
        return Response(self.body, status_code=self.status, media_type="application/json")


def sends(status: int, body: bytes) -> tuple[RunSends, ExecutorRuns, list[str]]:
    proxy = FakeProxy(status, body)
    runs = ExecutorRuns(None, "http://executor", clock=FakeClock())  # type: ignore[arg-type]  # never asked here
    return RunSends(proxy, runs, SETTINGS), runs, proxy.forwarded  # type: ignore[arg-type]


async def test_a_202_remembers_the_owner_of_the_new_run() -> None:
    svc, runs, forwarded = sends(202, json.dumps({"run_id": str(RUN), "status": "executing"}).encode())
    token, _ = issue_token(USER, SETTINGS)
    response = await svc.send(request(token))
    assert response.status_code == 202 and json.loads(bytes(response.body))["run_id"] == str(RUN)
    assert forwarded == ["POST /workflows/chat/send"]
    assert runs.allowed(RUN, USER)
    assert not runs.allowed(RUN, uuid.uuid4())


@pytest.mark.parametrize(
    ("status", "body", "with_token"),
    [
        (404, b'{"error": "not_found", "detail": "No such workflow."}', True),
        (202, b"not json", True),
        (202, b'{"status": "executing"}', True),
        (202, b'{"run_id": "not-a-uuid"}', True),
        (202, json.dumps({"run_id": str(RUN)}).encode(), False),
    ],
)
async def test_anything_else_is_answered_unchanged_and_remembers_nothing(
    status: int, body: bytes, with_token: bool
) -> None:
    svc, runs, _ = sends(status, body)
    token = issue_token(USER, SETTINGS)[0] if with_token else None
    response = await svc.send(request(token))
    assert response.status_code == status and bytes(response.body) == body
    assert not runs.allowed(RUN, USER)


async def test_a_token_the_gateway_cannot_read_remembers_nothing() -> None:
    svc, runs, _ = sends(202, json.dumps({"run_id": str(RUN)}).encode())
    other = Settings(jwt_secret="another-secret-entirely-for-this-test")  # type: ignore[arg-type]
    token, _ = issue_token(USER, other)
    assert (await svc.send(request(token))).status_code == 202
    assert not runs.allowed(RUN, USER)
