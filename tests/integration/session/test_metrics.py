"""`echoai_cache_requests_total{result}` on `/metrics`, counted where the session cache is read."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.integration.session.conftest import new_session
from tests.integration.session.support import MemcachedProcess, app_with_env
from tests.support.auth import headers_for
from tests.support.platform import free_port

pytestmark = pytest.mark.integration


async def _counts(client: httpx.AsyncClient) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    found = re.findall(r'^echoai_cache_requests_total\{result="(\w+)"\} (\S+)$', text, re.MULTILINE)
    return {result: float(value) for result, value in found}


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


async def test_hits_misses_and_errors_are_counted(database_url: str) -> None:
    memcached = MemcachedProcess()
    memcached.start()
    try:
        env = {"ECHO_MEMCACHED_SERVERS": memcached.address, "ECHO_SESSION_CACHE_INLINE_BYTES": "-1"}
        async with app_with_env(**env) as client:
            headers = headers_for(uuid.uuid4())
            sid = (await new_session(client, headers))["session_id"]
            before = await _counts(client)
            assert set(before) == {"hit", "miss", "error"}
            for _ in range(3):
                assert (await client.get(f"/sessions/{sid}", headers=headers)).status_code == 200
            assert _delta(before, await _counts(client)) == {"miss": 1, "hit": 2}

            memcached.kill()
            before = await _counts(client)
            for _ in range(4):
                assert (await client.get(f"/sessions/{sid}", headers=headers)).status_code == 200
            # Timeouts until the breaker opens, then reads that skip Memcached: all of them errors.
            assert _delta(before, await _counts(client)) == {"error": 4}
    finally:
        memcached.kill()


async def test_small_sessions_and_a_disabled_cache_count_nothing(database_url: str) -> None:
    for env in ({}, {"ECHO_CACHE_ENABLED": "false", "ECHO_MEMCACHED_SERVERS": f"127.0.0.1:{free_port()}"}):
        async with app_with_env(**env) as client:
            headers = headers_for(uuid.uuid4())
            sid = (await new_session(client, headers))["session_id"]
            before = await _counts(client)
            assert (await client.get(f"/sessions/{sid}", headers=headers)).status_code == 200
            assert _delta(before, await _counts(client)) == {}
