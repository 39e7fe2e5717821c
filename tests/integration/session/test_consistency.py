"""Concurrent appends all land; reads after writes are never stale, with the cache on and while Memcached dies,
comes back, or is cut off while it keeps its (now stale) entries."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from services.session.caching import SCHEMA
from tests.integration.session.conftest import new_session
from tests.integration.session.support import CuttableLink, MemcachedProcess, Workload, app_with_env
from tests.support.auth import headers_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def memcached() -> Iterator[MemcachedProcess]:
    mc = MemcachedProcess()
    mc.start()
    yield mc
    mc.kill()


@pytest.fixture
async def private_client(database_url: str, memcached: MemcachedProcess) -> AsyncIterator[httpx.AsyncClient]:
    # Every session through the cache, however small (by default small ones are read inline).
    env = {
        "ECHO_MEMCACHED_SERVERS": memcached.address,
        "ECHO_CACHE_ENABLED": "true",
        "ECHO_SESSION_CACHE_INLINE_BYTES": "-1",
    }
    async with app_with_env(**env) as client:
        yield client


async def test_200_concurrent_appends_all_land_gap_free(client: httpx.AsyncClient) -> None:
    headers = headers_for(uuid.uuid4())
    sid = (await new_session(client, headers))["session_id"]

    async def append(i: int) -> httpx.Response:
        return await client.post(
            f"/sessions/{sid}/messages", json={"role": "user", "content": f"c{i}"}, headers=headers
        )

    responses = await asyncio.gather(*(append(i) for i in range(200)))
    assert [r.status_code for r in responses] == [201] * 200
    assert sorted(r.json()["seq"] for r in responses) == list(range(1, 201))

    session = (await client.get(f"/sessions/{sid}", headers=headers)).json()
    assert session["message_count"] == 200
    assert [m["seq"] for m in session["messages"]] == list(range(1, 201))
    assert sorted(m["content"] for m in session["messages"]) == sorted(f"c{i}" for i in range(200))
    assert len({m["message_id"] for m in session["messages"]}) == 200
    # Each response is the message as stored, and created_at follows seq.
    by_seq = {r.json()["seq"]: r.json() for r in responses}
    assert all(by_seq[m["seq"]] == m for m in session["messages"])
    stamps = [m["created_at"] for m in session["messages"]]
    assert stamps == sorted(stamps)


async def test_1000_write_then_read_cycles_no_stale_reads(
    private_client: httpx.AsyncClient, memcached: MemcachedProcess
) -> None:
    headers = headers_for(uuid.uuid4())
    sid = str((await new_session(private_client, headers))["session_id"])
    work = Workload(private_client, headers, sid)
    hits_before = memcached.stat("get_hits")
    async with work.readers(3):
        for i in range(1000):
            await work.cycle(i)
    assert work.failures == []
    assert work.stale == []
    assert work.count == 667 and work.n == 998
    assert work.reads > 3000
    # The cache really served reads (this Memcached is ours alone, so its counters are ours).
    assert memcached.stat("get_hits") - hits_before > 200


async def test_memcached_killed_mid_run_then_restarted(
    private_client: httpx.AsyncClient, memcached: MemcachedProcess
) -> None:
    headers = headers_for(uuid.uuid4())
    sid = str((await new_session(private_client, headers))["session_id"])
    work = Workload(private_client, headers, sid)
    assert (await private_client.get("/health/cache")).json() == {"status": "ok"}
    async with work.readers(3):
        for i in range(100):
            await work.cycle(i)
        memcached.kill()
        for i in range(100, 250):
            await work.cycle(i)
        r = await private_client.get("/health/cache")
        assert r.status_code == 503 and r.json()["status"] == "down", r.text
        memcached.start()  # same port, empty
        r = await private_client.get("/health/cache")  # the probe also closes the breaker
        assert r.json() == {"status": "ok"}
        hits_before = memcached.stat("get_hits")
        for i in range(250, 400):
            await work.cycle(i)
    assert work.failures == []
    assert work.stale == []
    assert memcached.stat("get_hits") - hits_before > 50


async def test_invalidations_lost_while_cut_off_never_surface(database_url: str, memcached: MemcachedProcess) -> None:
    """Memcached keeps running but the service cannot reach it: the writes of that time cannot invalidate, the
    old entries are still there when the link comes back, and still no read returns them."""
    link = CuttableLink(memcached.port)
    link.heal()
    async with app_with_env(ECHO_MEMCACHED_SERVERS=link.address, ECHO_SESSION_CACHE_INLINE_BYTES="-1") as client:
        headers = headers_for(uuid.uuid4())
        sid = str((await new_session(client, headers, title="before"))["session_id"])
        first = (await client.get(f"/sessions/{sid}", headers=headers)).json()
        (await client.get(f"/sessions/{sid}/messages", headers=headers)).raise_for_status()
        direct = memcached.client()
        old_keys = [k for k in _keys(memcached) if sid in k]
        # The session at its first version (pages are one primary-key range read and not cached).
        assert len(old_keys) == 1, old_keys

        link.cut()
        started = time.monotonic()
        r = await client.patch(f"/sessions/{sid}/title", json={"title": "after"}, headers=headers)
        assert r.status_code == 200
        r = await client.post(f"/sessions/{sid}/messages", json={"role": "user", "content": "hi"}, headers=headers)
        assert r.status_code == 201
        assert (await client.get(f"/sessions/{sid}", headers=headers)).json()["title"] == "after"
        assert time.monotonic() - started < 5
        assert (await client.get("/health/cache")).status_code == 503

        link.heal()
        assert (await client.get("/health/cache")).json() == {"status": "ok"}
        # The stale entries survived the outage: nobody could delete them.
        assert all(direct.get(k) is not None for k in old_keys)
        assert first["title"] == "before"
        got = (await client.get(f"/sessions/{sid}", headers=headers)).json()
        assert got["title"] == "after" and got["message_count"] == 1
        page = (await client.get(f"/sessions/{sid}/messages", headers=headers)).json()
        assert [m["content"] for m in page["items"]] == ["hi"]
        # And the current version is cached again.
        assert (await client.get(f"/sessions/{sid}", headers=headers)).json() == got
        assert any(k.endswith(f"{sid}:{3}") for k in _keys(memcached))
        direct.close()
    link.cut()


async def test_small_sessions_are_read_inline_large_ones_cached(database_url: str, memcached: MemcachedProcess) -> None:
    async with app_with_env(ECHO_MEMCACHED_SERVERS=memcached.address) as client:  # default threshold, 32 KiB
        headers = headers_for(uuid.uuid4())
        sid = str((await new_session(client, headers))["session_id"])
        base = f"/sessions/{sid}"
        for i in range(3):
            await client.post(f"{base}/messages", json={"role": "user", "content": f"short {i}"}, headers=headers)
        small = [(await client.get(base, headers=headers)).json() for _ in range(2)]
        await client.get(f"{base}/messages", headers=headers)
        assert small[0] == small[1] and small[0]["message_count"] == 3
        assert [k for k in _keys(memcached) if sid in k] == []
        for _ in range(5):
            await client.post(f"{base}/messages", json={"role": "user", "content": "x" * 8000}, headers=headers)
        large = [(await client.get(base, headers=headers)).json() for _ in range(2)]
        page = (await client.get(f"{base}/messages", params={"after_seq": 6}, headers=headers)).json()
        assert large[0] == large[1] and large[0]["message_count"] == 8
        assert [m["seq"] for m in page["items"]] == [7, 8]
        version = 9  # created at 1, then 8 appends
        assert sorted(k.split(f"{sid}:")[1] for k in _keys(memcached) if sid in k) == [f"{version}"]
        # A write gives the superseded entry's memory back, just after its answer (which does not wait for that).
        await client.post(f"{base}/messages", json={"role": "user", "content": "one more"}, headers=headers)
        deadline = time.monotonic() + 5
        while [k for k in _keys(memcached) if sid in k]:
            assert time.monotonic() < deadline, "the superseded entry was never deleted"
            await asyncio.sleep(0.02)


async def test_cache_off_and_memcached_absent_work_from_postgres(database_url: str) -> None:
    from tests.support.platform import free_port

    for env in ({"ECHO_CACHE_ENABLED": "false"}, {"ECHO_MEMCACHED_SERVERS": f"127.0.0.1:{free_port()}"}):
        async with app_with_env(**env) as client:
            state = (await client.get("/health/cache")).json()["status"]
            assert state == ("disabled" if "ECHO_CACHE_ENABLED" in env else "down")
            headers = headers_for(uuid.uuid4())
            work = Workload(client, headers, str((await new_session(client, headers))["session_id"]))
            async with work.readers(2):
                for i in range(60):
                    await work.cycle(i)
            assert work.failures == [] and work.stale == []


def _keys(mc: MemcachedProcess) -> list[str]:
    """Every key Memcached holds (lru_crawler metadump), for checking what is cached."""
    import socket

    with socket.create_connection(("127.0.0.1", mc.port), timeout=2) as s:
        s.sendall(b"lru_crawler metadump all\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    keys = []
    for line in data.decode().splitlines():
        if line.startswith("key="):
            from urllib.parse import unquote

            keys.append(unquote(line.split()[0][4:]))
    return [k for k in keys if f":session:{SCHEMA}:" in k]
