"""The gateway's edge against the real platform: one user's failing request never fails the next user's, bad
paths and bad WebSocket parameters are answered by the gateway itself."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import register_and_login
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e


def test_a_failing_request_of_one_user_never_fails_the_next_users(gateway: httpx.Client) -> None:
    a = register_and_login(gateway, f"edge-a-{uuid.uuid4().hex[:8]}@example.com")
    b = register_and_login(gateway, f"edge-b-{uuid.uuid4().hex[:8]}@example.com")
    failures = []
    for i in range(50):
        # Whatever the workflow service makes of a NUL in a query (it used to be a 500 that closed the
        # connection), it is A's answer, and never a 502 from the gateway.
        r = gateway.get("/tools", params={"tag": "\x00"}, headers=a)
        assert r.status_code != 502, r.text
        r = gateway.get("/workflows", headers=b)
        if r.status_code != 200:
            failures.append((i, r.status_code, r.text))
    assert failures == []


@pytest.mark.parametrize(("path", "status"), [("/workflows/%00", 422), ("/agents/%0A", 422), ("/tools/%2E%2E/x", 404)])
def test_bad_paths_are_answered_by_the_gateway(gateway: httpx.Client, path: str, status: int) -> None:
    r = gateway.get(path, headers={"Authorization": "Bearer not-even-checked"})
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error", "detail"}


async def test_a_bad_after_seq_closes_1008_over_a_real_socket(platform: Platform, gateway: httpx.Client) -> None:
    token = register_and_login(gateway, f"edge-ws-{uuid.uuid4().hex[:8]}@example.com")["Authorization"][7:]
    url = f"{platform.ws_url}/ws/execution/{uuid.uuid4()}?token={token}&after_seq={'9' * 5000}"
    async with asyncio.timeout(20), connect(url, proxy=None) as ws:
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 1008
    assert ws.close_reason and "after_seq" in ws.close_reason
