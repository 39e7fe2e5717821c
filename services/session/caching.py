"""Cache-aside for session reads, keyed by the session's version.

A cached value is the exact JSON body of one read at one `version` of the session (checked against the
response model before it was stored), under the key `echo:session:v2:<session_id>:<version>`. A read first
asks PostgreSQL for the row's current version (a primary-key lookup, which also checks ownership), then
Memcached for that version's body; on a miss it reads the session and stores the body under the version that
came with it. A small session (see
`ECHO_SESSION_CACHE_INLINE_BYTES`) comes back whole from that first lookup: reading it costs no more than the
version check, so it is never cached.
So an entry never holds anything but what PostgreSQL said at that version, and a reader never asks for an
older version than the committed one:
- the stale-set race (a slow reader storing an old body after a writer's invalidation) stores under the old
  version's key, which no later read asks for;
- invalidations lost while Memcached was unreachable, evictions or a restart of Memcached cannot surface an
  old body either.
Writes still delete the previous version's entry after the commit, to give the memory back early; the answer
does not wait for that delete (a thread hop and a Memcached round trip on every write), since nothing depends on
it. With
Memcached off or its breaker open, a read is one query. Each read that asks Memcached (or would, but the
breaker is open) is counted in `echoai_cache_requests_total{result}`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.session.metrics import CACHE_REQUESTS
from shared.cache import Cache
from shared.db import after_commit

log = logging.getLogger("echoai.session.cache")

SCHEMA = "v2"  # bump when the shape of a cached body changes (v2: checked bodies of the messages table)

Loader = Callable[[], Awaitable[tuple[int, bytes] | None]]
# The current version, and the body itself when the session is small enough to be read inline.
Prober = Callable[[], Awaitable[tuple[int, bytes | None] | None]]

# Deletes of superseded entries still going on: the event loop keeps only weak references to tasks.
_DROPS: set[asyncio.Task[bool]] = set()


def drops_in_flight() -> set[asyncio.Task[bool]]:
    return set(_DROPS)


class SessionCache:
    def __init__(self, cache: Cache):
        self.cache = cache

    def key(self, session_id: uuid.UUID, version: int) -> str:
        return self.cache.key("session", SCHEMA, str(session_id), str(version))

    async def read(self, session_id: uuid.UUID, probe: Prober, load: Loader) -> bytes | None:
        """The body for the session's current version; None when there is no such session of this user."""
        if not self.cache.available:
            if self.cache.enabled:
                CACHE_REQUESTS.labels("error").inc()
            loaded = await load()
            return loaded[1] if loaded else None
        probed = await probe()
        if probed is None:
            return None
        version, inline = probed
        if inline is not None:
            return inline
        result, hit = await self.cache.lookup_raw_json(self.key(session_id, version))
        CACHE_REQUESTS.labels(result).inc()
        if hit is not None:
            return hit
        loaded = await load()
        if loaded is None:
            return None
        # Keyed by the version the body was read at, which may already be newer than `version`. Stored after an
        # error too: a failed get may have been one dead pooled connection, and the store goes on another.
        await self.cache.set_raw_json(self.key(session_id, loaded[0]), loaded[1])
        return loaded[1]

    def invalidate(self, db: AsyncSession, session_id: uuid.UUID, superseded_version: int | None) -> None:
        """After the commit, drop the full-session entry of the version this write superseded."""
        if superseded_version is None or not self.cache.enabled:
            return
        key = self.key(session_id, superseded_version)

        async def drop() -> None:
            # Nothing to repair when this fails: readers never ask for a superseded version again. So the answer
            # goes out without waiting for it (`Cache.delete` logs and swallows its own failures).
            if self.cache.available:
                task = asyncio.ensure_future(self.cache.delete(key))
                _DROPS.add(task)
                task.add_done_callback(_DROPS.discard)

        after_commit(db, drop)
