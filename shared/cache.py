"""Memcached through pymemcache: JSON values only, short timeouts, a circuit breaker, off the event loop.

pymemcache is blocking, so every call runs on a small dedicated thread pool; a dead or slow Memcached opens
the breaker and the cache then answers "miss" at once until a probe succeeds again. Callers treat the cache as
an optimisation only: every method returns a miss / does nothing on failure instead of raising.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pymemcache.client.base import PooledClient
from pymemcache.client.hash import HashClient

from shared.settings import Settings

log = logging.getLogger("echoai.cache")

CacheState = Literal["ok", "down", "disabled"]
Lookup = Literal["hit", "miss", "error"]
# Memcached refuses items over 1 MiB (its default -I) including key and header; larger values are not cached.
MAX_VALUE_BYTES = 1024 * 1024 - 4096


_JSON_STARTS = frozenset(bytes([c]) for c in b'{["-0123456789tfn')


class CircuitBreaker:
    """Closed until `threshold` consecutive failures, then open for `cooldown` seconds, then one probe."""

    def __init__(self, threshold: int = 3, cooldown: float = 5.0, clock: Any = time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def ready(self) -> bool:
        """Whether a call would be let through now (closed, or a probe is due), without using up the probe."""
        with self._lock:
            if self._opened_at is None:
                return True
            return self._clock() - self._opened_at >= self.cooldown and not self._probing

    def allow(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return True
            if self._clock() - self._opened_at >= self.cooldown and not self._probing:
                self._probing = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            if self._opened_at is not None:
                log.info("memcached is reachable again; cache back on")
            self._failures, self._opened_at, self._probing = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._probing = False
            if self._failures >= self.threshold or self._opened_at is not None:
                if self._opened_at is None:
                    log.warning("memcached failed %d times in a row; bypassing the cache", self._failures)
                self._opened_at = self._clock()


class Cache:
    def __init__(self, settings: Settings, *, namespace: str = "echo"):
        self.enabled = settings.cache_enabled
        self.ttl = settings.cache_ttl_seconds
        self.namespace = namespace
        self.breaker = CircuitBreaker()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="memcache")
        self._client: Any = None
        if self.enabled:
            servers = settings.memcached_server_list
            timeout = settings.cache_timeout_seconds
            common: dict[str, Any] = {"connect_timeout": timeout, "timeout": timeout, "no_delay": True}
            if len(servers) == 1:
                self._client = PooledClient(servers[0], max_pool_size=8, **common)
            else:
                self._client = HashClient(servers, use_pooling=True, retry_attempts=1, ignore_exc=False, **common)

    def key(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    @property
    def available(self) -> bool:
        """Worth asking: enabled and not bypassed by the breaker. Lets a caller skip cache-only work at once."""
        return self._client is not None and self.breaker.ready()

    async def _call(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        if self._client is None or not self.breaker.allow():
            raise ConnectionError("cache unavailable")
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._pool, lambda: getattr(self._client, fn)(*args, **kwargs))
        except Exception:
            self.breaker.failure()
            raise
        self.breaker.success()
        return result

    async def get_raw_json(self, key: str) -> bytes | None:
        """A JSON document stored by `set_raw_json`, as bytes (to be served as-is); None on a miss or failure."""
        return (await self.lookup_raw_json(key))[1]

    async def lookup_raw_json(self, key: str) -> tuple[Lookup, bytes | None]:
        """`get_raw_json` that also says why there is no body: a miss, or Memcached could not be asked (an
        error: unreachable, timed out, or bypassed by the open breaker). For callers that count them."""
        try:
            raw = await self._call("get", key)
        except Exception:
            return "error", None
        if raw is None:
            return "miss", None
        payload = bytes(raw)
        # Served without parsing, so anything that cannot start a JSON document (a foreign or pickled value put
        # there by another client) is dropped rather than handed to a caller.
        if payload.lstrip()[:1] not in _JSON_STARTS:
            log.warning("dropping a cache entry that is not JSON", extra={"fields": {"key": key}})
            await self.delete(key)
            return "miss", None
        return "hit", payload

    async def set_raw_json(self, key: str, payload: bytes, ttl: int | None = None) -> bool:
        """Store an already serialised JSON document."""
        return await self._store("set", key, payload, ttl)

    async def _store(self, op: str, key: str, payload: bytes, ttl: int | None) -> bool:
        # Values over Memcached's item size limit are not sent: the server would refuse them, and that refusal
        # would count against the breaker as if Memcached were failing.
        if len(payload) > MAX_VALUE_BYTES:
            return False
        try:
            return bool(await self._call(op, key, payload, expire=ttl or self.ttl, noreply=False))
        except Exception:
            return False

    async def delete(self, *keys: str) -> bool:
        """True when every key is gone from Memcached (or the cache is off); False when it could not be told."""
        if self._client is None:
            return True
        try:
            for key in keys:
                await self._call("delete", key, noreply=False)
            return True
        except Exception:
            log.warning("could not invalidate cache keys", extra={"fields": {"keys": list(keys)}})
            return False

    async def state(self) -> tuple[CacheState, str | None]:
        if not self.enabled:
            return "disabled", None
        loop = asyncio.get_running_loop()
        try:
            # The health probe bypasses the breaker so it reports the truth, but keeps the short timeout.
            await loop.run_in_executor(self._pool, lambda: self._client.get(self.key("health")))
        except Exception as exc:
            return "down", f"memcached is not answering ({type(exc).__name__}); requests are served from PostgreSQL"
        self.breaker.success()
        return "ok", None

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
