"""The session service's own Prometheus metrics (default registry: one process per container)."""

from __future__ import annotations

from prometheus_client import Counter

CACHE_REQUESTS = Counter(
    "echoai_cache_requests",
    "Reads of a whole session that asked Memcached, by result: hit (served from Memcached), miss (read from "
    "PostgreSQL and stored), error (Memcached unreachable, timed out or bypassed by the open breaker; read from "
    "PostgreSQL). Sessions small enough to be read inline, and reads with the cache disabled, are not counted.",
    ["result"],
)
for _result in ("hit", "miss", "error"):
    CACHE_REQUESTS.labels(_result)  # every series exists from the start, at 0
