"""The version-keyed cache-aside logic, against an in-memory stand-in for shared.cache.Cache."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from services.session.caching import SessionCache, drops_in_flight
from services.session.metrics import CACHE_REQUESTS
from shared.cache import CircuitBreaker


def counted() -> dict[str, float]:
    return {r: CACHE_REQUESTS.labels(r)._value.get() for r in ("hit", "miss", "error")}


def delta(before: dict[str, float]) -> dict[str, float]:
    return {r: v - before[r] for r, v in counted().items() if v != before[r]}


class MemoryCache:
    def __init__(self, available: bool = True):
        self.available = available
        self.enabled = True
        self.data: dict[str, bytes] = {}
        self.deleted: list[str] = []

    def key(self, *parts: str) -> str:
        return ":".join(("echo", *parts))

    async def lookup_raw_json(self, key: str) -> tuple[str, bytes | None]:
        if key in self.data:
            return "hit", self.data[key]
        return "miss", None

    async def set_raw_json(self, key: str, payload: bytes, ttl: int | None = None) -> bool:
        self.data[key] = payload
        return True

    async def delete(self, *keys: str) -> bool:
        self.deleted += keys
        return True


class FakeDb:
    def __init__(self) -> None:
        self.info: dict[str, Any] = {}


def _reader(
    probes: list[tuple[int, bytes | None] | None], rows: list[tuple[int, bytes] | None]
) -> tuple[Any, Any, dict[str, int]]:
    calls = {"probe": 0, "load": 0}

    async def probe() -> tuple[int, bytes | None] | None:
        calls["probe"] += 1
        return probes.pop(0)

    async def load() -> tuple[int, bytes] | None:
        calls["load"] += 1
        return rows.pop(0)

    return probe, load, calls


SID = uuid.UUID("00000000-0000-0000-0000-0000000000aa")


async def test_miss_stores_under_the_version_that_was_read() -> None:
    cache = MemoryCache()
    sc = SessionCache(cache)  # type: ignore[arg-type]
    # The row moved on between the version lookup (3) and the read (4): the body is stored as version 4.
    version_of, load, _ = _reader([(3, None)], [(4, b'{"v":4}')])
    before = counted()
    assert await sc.read(SID, version_of, load) == b'{"v":4}'
    assert set(cache.data) == {sc.key(SID, 4)}
    assert delta(before) == {"miss": 1}


async def test_hit_does_not_read_the_row() -> None:
    cache = MemoryCache()
    sc = SessionCache(cache)  # type: ignore[arg-type]
    cache.data[sc.key(SID, 7)] = b"cached"
    version_of, load, calls = _reader([(7, None)], [])
    before = counted()
    assert await sc.read(SID, version_of, load) == b"cached"
    assert calls == {"probe": 1, "load": 0}
    assert delta(before) == {"hit": 1}


async def test_an_entry_of_an_older_version_is_never_served() -> None:
    cache = MemoryCache()
    sc = SessionCache(cache)  # type: ignore[arg-type]
    cache.data[sc.key(SID, 7)] = b"old"  # e.g. set by a slow reader after the writer's invalidation
    version_of, load, _ = _reader([(8, None)], [(8, b"new")])
    assert await sc.read(SID, version_of, load) == b"new"


async def test_small_session_comes_back_with_the_probe_and_is_not_cached() -> None:
    cache = MemoryCache()
    sc = SessionCache(cache)  # type: ignore[arg-type]
    version_of, load, calls = _reader([(5, b"small")], [])
    before = counted()
    assert await sc.read(SID, version_of, load) == b"small"
    assert calls == {"probe": 1, "load": 0} and cache.data == {}
    assert delta(before) == {}  # Memcached was not asked


async def test_unavailable_cache_is_one_query() -> None:
    sc = SessionCache(MemoryCache(available=False))  # type: ignore[arg-type]
    version_of, load, calls = _reader([], [(1, b"x")])
    before = counted()
    assert await sc.read(SID, version_of, load) == b"x"
    assert calls == {"probe": 0, "load": 1}
    assert delta(before) == {"error": 1}  # enabled, but the breaker is open


async def test_a_failing_memcached_read_is_an_error() -> None:
    cache = MemoryCache()

    async def failing(key: str) -> tuple[str, bytes | None]:
        return "error", None

    cache.lookup_raw_json = failing  # type: ignore[method-assign]
    sc = SessionCache(cache)  # type: ignore[arg-type]
    version_of, load, calls = _reader([(2, None)], [(2, b"from-postgres")])
    before = counted()
    assert await sc.read(SID, version_of, load) == b"from-postgres"
    assert calls == {"probe": 1, "load": 1}
    assert delta(before) == {"error": 1}


async def test_missing_session_is_none() -> None:
    sc = SessionCache(MemoryCache())  # type: ignore[arg-type]
    version_of, load, _ = _reader([None], [])
    assert await sc.read(SID, version_of, load) is None
    version_of, load, _ = _reader([(2, None)], [None])  # deleted between the two queries
    assert await sc.read(SID, version_of, load) is None


async def test_invalidation_runs_after_commit_only() -> None:
    cache = MemoryCache()
    sc = SessionCache(cache)  # type: ignore[arg-type]
    db = FakeDb()
    sc.invalidate(db, SID, 5)  # type: ignore[arg-type]
    assert cache.deleted == []
    for hook in db.info["after_commit"]:
        await hook()
    # The answer does not wait for the delete, which is still under way here.
    in_flight = drops_in_flight()
    assert len(in_flight) == 1
    await asyncio.gather(*in_flight)
    assert cache.deleted == [sc.key(SID, 5)] and not drops_in_flight()


@pytest.mark.parametrize("probing", [False, True])
def test_breaker_ready_does_not_use_up_the_probe(probing: bool) -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=1, cooldown=5, clock=lambda: now[0])
    assert breaker.ready()
    breaker.failure()
    assert not breaker.ready()
    now[0] = 6
    if probing:
        assert breaker.allow()  # someone took the probe
        assert not breaker.ready()
    else:
        assert breaker.ready() and breaker.ready()
        assert breaker.allow()
