"""One user's failing request must not fail the next user's: the proxy survives dead pooled connections.

The gateway runs in process; the upstream is a real server on a TCP port (see `tests/support/upstreams.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway.app import create_app
from shared.settings import get_settings
from tests.support.apps import running_app
from tests.support.auth import headers_for
from tests.support.upstreams import BOOM, DroppingUpstream, flaky_process, gateway_before

pytestmark = pytest.mark.integration

USER_A = headers_for(uuid.uuid4())
USER_B = headers_for(uuid.uuid4())
ROUNDS = 50


@pytest.fixture
async def dropping(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, DroppingUpstream]]:
    upstream = DroppingUpstream()
    async with gateway_before(upstream) as client:
        yield client, upstream


async def _b_request(client: httpx.AsyncClient, method: str) -> httpx.Response:
    body = {"definition": {"name": "b"}, "save_as": "draft"} if method in ("PUT", "POST") else None
    return await client.request(method, "/workflows", json=body, headers=USER_B)


@pytest.mark.parametrize("a_method", ["GET", "POST"])
@pytest.mark.parametrize("b_method", ["GET", "PUT", "DELETE"])
async def test_idempotent_request_after_a_dead_connection_is_answered(
    dropping: tuple[httpx.AsyncClient, DroppingUpstream], a_method: str, b_method: str
) -> None:
    client, upstream = dropping
    failures = []
    for i in range(ROUNDS):
        a = await client.request(a_method, BOOM, headers=USER_A)
        assert a.status_code == 500, a.text  # A's own failure reaches A as the service gave it
        b = await _b_request(client, b_method)
        if b.status_code != 200:
            failures.append((i, b.status_code, b.text))
    assert failures == []
    # Every B request met the dead connection first, then was answered on a new one.
    assert upstream.seen[(b_method, "/workflows")] == 2 * ROUNDS


async def test_a_post_is_not_retried_and_the_dead_connection_is_not_reused(
    dropping: tuple[httpx.AsyncClient, DroppingUpstream],
) -> None:
    client, upstream = dropping
    assert (await client.get(BOOM, headers=USER_A)).status_code == 500
    r = await _b_request(client, "POST")
    assert r.status_code == 502, r.text
    assert r.json()["error"] == "upstream_unavailable"
    assert upstream.seen[("POST", "/workflows")] == 1  # sent once, never again
    for _ in range(5):
        assert (await _b_request(client, "POST")).status_code == 200
    assert upstream.seen[("POST", "/workflows")] == 6


async def test_unhandled_upstream_exceptions_do_not_fail_the_next_user(database_url: str) -> None:
    """The real thing: uvicorn answers 500 after an unhandled exception, then closes the connection."""
    with flaky_process() as url:
        settings = get_settings().model_copy(update={"workflow_url": url})
        async with running_app(lambda: create_app(settings), wait_broker=False) as client:
            failures = []
            for i in range(ROUNDS):
                a = await client.get(BOOM, headers=USER_A)
                assert a.status_code == 500
                b = await client.get("/workflows", headers=USER_B)
                if b.status_code != 200:
                    failures.append((i, b.status_code, b.text))
            assert failures == []
