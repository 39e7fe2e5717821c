"""The cache client against a real Memcached: JSON round trips, a dead server, the off switch."""

from __future__ import annotations

import time
import uuid

import pytest

from shared.cache import Cache
from shared.settings import Settings
from tests.support.platform import free_port
from tests.support.servers import Servers

pytestmark = pytest.mark.integration


async def test_json_round_trip_and_delete(servers: Servers) -> None:
    cache = Cache(Settings(memcached_servers=servers.memcached))
    try:
        key = cache.key("test", uuid.uuid4().hex)
        assert await cache.get_raw_json(key) is None
        assert await cache.set_raw_json(key, b'{"a":[1,2],"b":null}', ttl=30)
        assert await cache.get_raw_json(key) == b'{"a":[1,2],"b":null}'
        assert await cache.delete(key)
        assert await cache.get_raw_json(key) is None
        assert await cache.state() == ("ok", None)
    finally:
        cache.close()


async def test_non_json_entries_are_dropped_not_unpickled(servers: Servers) -> None:
    cache = Cache(Settings(memcached_servers=servers.memcached))
    try:
        key = cache.key("test", uuid.uuid4().hex)
        await cache._call("set", key, b"\x80\x04not json", expire=30, noreply=False)
        assert await cache.get_raw_json(key) is None
        assert await cache._call("get", key) is None
    finally:
        cache.close()


async def test_dead_memcached_answers_misses_quickly_and_reports_down() -> None:
    cache = Cache(Settings(memcached_servers=f"127.0.0.1:{free_port()}"))
    try:
        started = time.perf_counter()
        for _ in range(50):
            assert await cache.get_raw_json("k") is None
            assert not await cache.set_raw_json("k", b"1")
        # The breaker opened after a few failures; the rest were answered without touching the network.
        assert cache.breaker.is_open
        assert time.perf_counter() - started < 2.0
        state, detail = await cache.state()
        assert state == "down" and detail
    finally:
        cache.close()


async def test_disabled_cache_is_a_no_op() -> None:
    cache = Cache(Settings(cache_enabled=False))
    assert await cache.state() == ("disabled", None)
    assert await cache.get_raw_json("k") is None
    assert await cache.delete("k")
    cache.close()


async def test_oversized_values_are_not_sent_and_do_not_trip_the_breaker(servers: Servers) -> None:
    cache = Cache(Settings(memcached_servers=servers.memcached))
    try:
        key = cache.key("test", uuid.uuid4().hex)
        for _ in range(5):
            assert not await cache.set_raw_json(key, b"x" * (2 * 1024 * 1024))
        assert not cache.breaker.is_open
        assert await cache.set_raw_json(key, b'"small"')
        assert await cache.get_raw_json(key) == b'"small"'
    finally:
        cache.close()
