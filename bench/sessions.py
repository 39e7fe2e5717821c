"""Session append and read through the gateway, beside a bare FastAPI + asyncpg app doing the same statements.

Loopback only and bounded. Starts, in a scratch database (created, migrated and dropped here) and a broker
namespace of its own (deleted at the end):
- the platform: all four services as processes, pointed at a private Memcached (so its hit counter is ours);
- a second session service with the cache off, behind a second gateway (for cache-hit versus cache-off reads);
- a third session service whose Memcached is unreachable (reads must be as fast as with the cache off);
- a bare FastAPI + asyncpg app (this file, `--bare-server`, under uvicorn like the services) that runs the
  session service's append and read statements on the same tables, without token, ORM, transaction block,
  cache, response checks or proxy hop.
Then, with `--concurrency` clients in this process: appends, reads of a 20-message and of a 1,000-message
session (through the gateway, straight to the session service, and on the bare app), the append latency at
10, 1,000 and 10,000 messages in one session, and the WAL written by 1,000 appends to a session of 5,000
messages, and by listing 1,000 runs on a session that lists 5,000, for the old storage (the JSONB-array
appends it replaced, reproduced here) and this one. A summary
prints the ratios the service is held to, each beside its baseline from the same run. The lines of one group
take turns in rounds so that other load on the machine falls on all of them alike. Services log at WARNING
(no access lines). On a 2-core machine the client, the gateway, the services and PostgreSQL share the cores,
so absolute figures are low; the ratios are the point.

    .venv/bin/python bench/sessions.py [--requests 1600] [--concurrency 16] [--appends 20] [--no-reads]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Literal

import asyncpg
import httpx
from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared import dbadmin, migrations  # noqa: E402
from tests.support.broker import delete_namespace  # noqa: E402
from tests.support.platform import Platform, free_port, make_platform  # noqa: E402
from tests.support.servers import port_open  # noqa: E402

BASE_DB = os.environ.get("ECHO_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/echoai")
AMQP = os.environ.get("ECHO_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
CONTENT = "How do tides work, and why are there two of them a day? " * 3  # ~170 bytes, a short chat turn

ISO = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
MESSAGE_JSON = f"""json_build_object('message_id', m.message_id, 'seq', m.seq, 'role', m.role, 'content', m.content,
    'metadata', m.metadata, 'run_id', m.run_id, 'created_at', {ISO.format("m.created_at")})"""
# The statements of services/session/repository.py (an append, a whole-session read), on the same tables, with
# the same ownership check, run by a bare FastAPI + asyncpg app: no token, ORM, transaction block, cache or checks.
BARE_APPEND = f"""WITH n AS (
    UPDATE session.chat_sessions s
    SET message_count = s.message_count + 1, content_bytes = s.content_bytes + $5, version = s.version + 1,
        updated_at = now()
    WHERE s.session_id = $1 AND s.user_id = $2 AND s.message_count < 20000 AND s.content_bytes + $5 <= 16777216
    RETURNING s.session_id, s.message_count, s.version)
INSERT INTO session.messages AS m (session_id, seq, message_id, role, content, metadata, run_id, created_at)
SELECT n.session_id, n.message_count, gen_random_uuid(), $3::text, $4::text, '{{}}'::jsonb, NULL, clock_timestamp()
FROM n
RETURNING (SELECT version FROM n) AS version, {MESSAGE_JSON}::text AS body"""
BARE_READ = f"""SELECT s.version, json_build_object('session_id', s.session_id, 'title', s.title,
    'context_type', s.context_type, 'context_id', s.context_id, 'variables', s.variables,
    'selected_tool_ids', s.selected_tool_ids,
    'run_ids', (SELECT coalesce(json_agg(r.run_id ORDER BY r.position), '[]'::json)
                FROM session.session_runs r WHERE r.session_id = s.session_id),
    'messages', (SELECT coalesce(json_agg({MESSAGE_JSON} ORDER BY m.seq), '[]'::json)
                 FROM session.messages m WHERE m.session_id = s.session_id),
    'message_count', s.message_count, 'created_at', {ISO.format("s.created_at")},
    'updated_at', {ISO.format("s.updated_at")})::text AS body
FROM session.chat_sessions s WHERE s.session_id = $1 AND s.user_id = $2"""
# Grows a session to `size` messages in one statement (filling 10,000 through the API would take minutes).
FILL_SERVICE = """WITH m AS (
    INSERT INTO session.messages (session_id, seq, message_id, role, content, created_at)
    SELECT $1, i, gen_random_uuid(), CASE WHEN i % 2 = 1 THEN 'user' ELSE 'assistant' END,
           'message ' || i || ': ' || $3::text, now()
    FROM generate_series(1, $2::int) i
    RETURNING octet_length(content) AS b)
UPDATE session.chat_sessions SET message_count = $2, content_bytes = (SELECT sum(b) FROM m),
    version = version + 1, updated_at = now()
WHERE session_id = $1"""

# Listing a run (`POST /sessions/{id}/run`), the service's statement; and a session already listing $2 runs.
BARE_RECORD_RUN = """WITH n AS (
    UPDATE session.chat_sessions s SET run_count = s.run_count + 1, version = s.version + 1, updated_at = now()
    WHERE s.session_id = $1 AND s.user_id = $2 AND NOT EXISTS (
        SELECT 1 FROM session.session_runs r WHERE r.session_id = s.session_id AND r.run_id = $3)
    RETURNING s.session_id, s.run_count, s.version)
INSERT INTO session.session_runs (session_id, run_id, position)
SELECT n.session_id, $3, n.run_count FROM n
ON CONFLICT (session_id, run_id) DO NOTHING
RETURNING (SELECT version FROM n)"""
FILL_RUNS = """WITH r AS (
    INSERT INTO session.session_runs (session_id, run_id, position)
    SELECT $1, gen_random_uuid(), i FROM generate_series(1, $2::int) i)
UPDATE session.chat_sessions SET run_count = $2, version = version + 1 WHERE session_id = $1"""

# The storage before messages became rows, kept here as the write-amplification baseline: the messages of a
# session as one JSONB array on its row (lz4, as it was), and the append statement it took.
OLD_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE bench.sessions (
    id uuid PRIMARY KEY, message_count integer NOT NULL DEFAULT 0, messages jsonb NOT NULL DEFAULT '[]',
    run_ids jsonb NOT NULL DEFAULT '[]', version bigint NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE bench.sessions ALTER COLUMN messages SET COMPRESSION lz4;
"""
OLD_APPEND = f"""UPDATE bench.sessions SET message_count = message_count + 1, version = version + 1,
    updated_at = now(),
    messages = messages || jsonb_build_array(jsonb_build_object('message_id', gen_random_uuid()::text,
        'seq', message_count + 1, 'role', $2::text, 'content', $3::text, 'metadata', '{{}}'::jsonb, 'run_id', NULL,
        'created_at', {ISO.format("clock_timestamp()")}))
WHERE id = $1 RETURNING (messages -> -1)::text"""
# Run ids were a JSONB array on the session row as well, until they became rows too.
OLD_RECORD_RUN = """UPDATE bench.sessions SET run_ids = run_ids || jsonb_build_array($2::text), version = version + 1,
    updated_at = now()
WHERE id = $1 AND NOT run_ids @> jsonb_build_array($2::text)"""
OLD_FILL_RUNS = """UPDATE bench.sessions
SET run_ids = (SELECT jsonb_agg(gen_random_uuid()::text) FROM generate_series(1, $2::int)) WHERE id = $1"""
OLD_FILL = f"""UPDATE bench.sessions SET messages = f.m, message_count = $2, updated_at = now()
    FROM (SELECT jsonb_agg(jsonb_build_object('message_id', gen_random_uuid()::text, 'seq', i,
        'role', CASE WHEN i % 2 = 1 THEN 'user' ELSE 'assistant' END, 'content', 'message ' || i || ': ' || $3::text,
        'metadata', '{{}}'::jsonb, 'run_id', NULL, 'created_at', {ISO.format("now()")}) ORDER BY i) AS m
        FROM generate_series(1, $2::int) i) f
    WHERE id = $1"""


class BareMessageIn(BaseModel):
    role: Literal["user", "assistant", "system", "tool"]
    content: str


def bare_app(dsn: str) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=4, max_size=10)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/u/{uid}/s/{sid}/messages", status_code=201)
    async def append(uid: uuid.UUID, sid: uuid.UUID, body: BareMessageIn) -> Response:
        nbytes = len(body.content.encode())
        row = await app.state.pool.fetchrow(BARE_APPEND, sid, uid, body.role, body.content, nbytes)
        return Response(row["body"] if row else None, status_code=201 if row else 404, media_type="application/json")

    @app.get("/u/{uid}/s/{sid}")
    async def read(uid: uuid.UUID, sid: uuid.UUID) -> Response:
        row = await app.state.pool.fetchrow(BARE_READ, sid, uid)
        return Response(row["body"] if row else None, status_code=200 if row else 404, media_type="application/json")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


Request = Callable[[int], Awaitable[httpx.Response]]


class Result:
    def __init__(self, name: str):
        self.name = name
        self.elapsed = 0.0
        self.ms: list[float] = []
        self.errors: dict[int, int] = {}

    @property
    def rps(self) -> float:
        return len(self.ms) / self.elapsed

    def line(self, concurrency: int) -> str:
        errors = f"  errors: {self.errors}" if self.errors else ""
        return (
            f"  {self.name:<36} n={len(self.ms):>5}  c={concurrency:>2}  {self.rps:7.0f} req/s"
            f"  p50={pct(self.ms, 50):7.2f} ms  p99={pct(self.ms, 99):7.2f} ms{errors}"
        )


async def drive(result: Result, n: int, concurrency: int, request: Request, expect: int) -> Result:
    """`n` requests from `concurrency` workers; an unexpected status is counted (and fatal past 1 %)."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            r = await request(i)
            result.ms.append((time.perf_counter() - started) * 1000)
            if r.status_code != expect:
                result.errors[r.status_code] = result.errors.get(r.status_code, 0) + 1
                if sum(result.errors.values()) > max(n // 100, 3):
                    raise RuntimeError(f"{result.name}: {r.status_code} {r.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed += time.perf_counter() - started
    return result


async def compare(n: int, c: int, contenders: list[tuple[str, Request, int]], rounds: int = 4) -> list[Result]:
    """Each contender gets `n` requests in `rounds` slices, taking turns (rotating who goes first), so that
    load from elsewhere on the machine falls on all of them alike."""
    results = {name: Result(name) for name, _, _ in contenders}
    for _, request, expect in contenders:
        await drive(Result("warm-up"), 2 * c, c, request, expect)
    for r in range(rounds):
        turn = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
        for name, request, expect in turn:
            await drive(results[name], n // rounds, c, request, expect)
    return [results[name] for name, _, _ in contenders]


async def wal_of(db: asyncpg.Connection, statement: Callable[[], Awaitable[object]], times: int) -> int:
    """WAL bytes written while `statement` runs `times` times in a row, each in its own transaction."""
    start = await db.fetchval("SELECT pg_current_wal_lsn()::text")
    for _ in range(times):
        await statement()
    return int(await db.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)", start))


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


def memcached_hits(port: int) -> int:
    from pymemcache.client.base import Client

    client = Client(("127.0.0.1", port), timeout=2)
    try:
        return int(client.stats()[b"get_hits"])
    finally:
        client.close()


def _client(base_url: str, concurrency: int, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60)


async def run(
    args: argparse.Namespace, on: Platform, off: Platform, down: Platform, bare_port: int, db: asyncpg.Connection
) -> None:
    n, c = args.requests, args.concurrency
    with httpx.Client(base_url=on.url, timeout=30) as gw:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        gw.post("/auth/register", json={"email": email, "password": "bench-password"}).raise_for_status()
        token = gw.post("/auth/login", json={"email": email, "password": "bench-password"}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    clients = {
        "gateway": _client(on.url, c, auth),
        "gateway_off": _client(off.url, c, auth),
        "direct": _client(on.service_url("session"), c, auth),
        "direct_off": _client(off.service_url("session"), c, auth),
        "direct_down": _client(down.service_url("session"), c, auth),
        "bare": _client(f"http://127.0.0.1:{bare_port}", c),
    }
    message = {"role": "user", "content": CONTENT}
    with httpx.Client(base_url=on.url, timeout=30) as gw:
        user_id = uuid.UUID(gw.get("/auth/me", headers=auth).json()["user_id"])
    bare_prefix = f"/u/{user_id}/s"

    async def service_session(size: int = 0) -> str:
        r = await clients["gateway"].post("/sessions", json={"title": "bench"})
        r.raise_for_status()
        sid = str(r.json()["session_id"])
        if size:
            await db.execute(FILL_SERVICE, uuid.UUID(sid), size, CONTENT)
        return sid

    def poster(client: str, sessions: list[str], prefix: str) -> Request:
        async def post(i: int) -> httpx.Response:
            return await clients[client].post(f"{prefix}/{sessions[i % len(sessions)]}/messages", json=message)

        return post

    def getter(client: str, sessions: list[str], prefix: str) -> Request:
        async def get(i: int) -> httpx.Response:
            return await clients[client].get(f"{prefix}/{sessions[i % len(sessions)]}")

        return get

    summary: list[str] = []
    try:
        print(f"\nThroughput: {c} concurrent clients in this process, {n} requests per line unless noted,")
        print("in 4 interleaved rounds per group so that other load on the machine falls on every line alike.")
        # Each stack appends to sessions of its own (the same tables, the same statement).
        ours = [await service_session() for _ in range(c)]
        bare = [await service_session() for _ in range(c)]
        print("append (one message to one of c sessions)")
        via_gateway, direct, bare_append = await compare(
            n,
            c,
            [
                ("gateway -> session service", poster("gateway", ours, "/sessions"), 201),
                ("session service direct", poster("direct", ours, "/sessions"), 201),
                ("bare FastAPI + asyncpg", poster("bare", bare, bare_prefix), 201),
            ],
        )
        for res in (via_gateway, direct, bare_append):
            print(res.line(c))
        direct_ratio, gateway_ratio = direct.rps / bare_append.rps, via_gateway.rps / bare_append.rps
        print(f"  direct / bare: {direct_ratio:.2f}x the throughput; gateway / bare: {gateway_ratio:.2f}x")
        summary.append(f"  session service direct append throughput / bare: {direct_ratio:.2f}x (target >= 0.75)")
        summary.append(f"  append through the gateway / bare:                {gateway_ratio:.2f}x (target >= 0.5)")

        for size, count in ((20, n), (1000, max(n // 5, 100))) if not args.no_reads else ():
            ours = [await service_session(size) for _ in range(c)]
            bare = [await service_session(size) for _ in range(c)]
            hits = memcached_hits(args.memcached_port)
            results = await compare(
                count,
                c,
                [
                    ("gateway -> session, cache on", getter("gateway", ours, "/sessions"), 200),
                    ("gateway -> session, cache off", getter("gateway_off", ours, "/sessions"), 200),
                    ("session direct, cache on", getter("direct", ours, "/sessions"), 200),
                    ("session direct, cache off", getter("direct_off", ours, "/sessions"), 200),
                    ("session direct, Memcached down", getter("direct_down", ours, "/sessions"), 200),
                    ("bare FastAPI + asyncpg", getter("bare", bare, bare_prefix), 200),
                ],
            )
            cached_reads = 2 * (count + 2 * c)  # both cache-on lines, warm-up included
            hit_ratio = (memcached_hits(args.memcached_port) - hits) / cached_reads
            kib = len((await clients["bare"].get(f"{bare_prefix}/{bare[0]}")).content) / 1024
            print(f"read a {size:,}-message session ({kib:,.0f} KiB of JSON)")
            for r in results:
                print(r.line(c))
            g_hit, g_off, d_hit, d_off, d_down, b = results
            print(
                f"  cache on / cache off: {g_hit.rps / g_off.rps:.2f}x (gateway), "
                f"{d_hit.rps / d_off.rps:.2f}x (direct) the throughput; Memcached served {hit_ratio:.0%} "
                "of the cache-on reads"
                + (" (a session this small is read inline, in one query)" if hit_ratio < 0.5 else "")
            )
            print(
                f"  bare / gateway cache on: {b.rps / g_hit.rps:.1f}x; bare / direct cache on: {b.rps / d_hit.rps:.1f}x"
            )
            print(
                f"  Memcached down / cache off (direct): {d_down.rps / d_off.rps:.2f}x the throughput, "
                f"p99 {pct(d_down.ms, 99):.1f} ms vs {pct(d_off.ms, 99):.1f} ms"
            )

        print(f"\nAppend latency by session size: {args.appends} appends in a row (no concurrency) per size and stack.")
        print(f"  {'messages':>10}   {'gateway p50':>12} {'p99':>8}   {'bare p50':>9} {'p99':>8}")
        p50: dict[int, float] = {}
        for size in (10, 1000, 10000):
            g_res, b_res = await compare(
                args.appends,
                1,
                [
                    ("gateway", poster("gateway", [await service_session(size)], "/sessions"), 201),
                    ("bare", poster("bare", [await service_session(size)], bare_prefix), 201),
                ],
                rounds=2,
            )
            p50[size] = pct(g_res.ms, 50)
            print(
                f"  {size:>10,}   {pct(g_res.ms, 50):9.2f} ms {pct(g_res.ms, 99):5.2f} ms"
                f"   {pct(b_res.ms, 50):6.2f} ms {pct(b_res.ms, 99):5.2f} ms"
            )
        summary.append(
            f"  gateway append p50 at 10,000 messages / at 10:    {p50[10000] / p50[10]:.2f}x "
            f"({p50[10000]:.2f} vs {p50[10]:.2f} ms; target <= 2)"
        )

        k = args.wal_appends
        print(f"\nWrite amplification: WAL for {k:,} appends in a row to a session holding 5,000 messages")
        print("(pg_current_wal_lsn() before and after; the cluster is shared, so other writers add a little).")
        nbytes = len(CONTENT.encode())
        old_sid = uuid.uuid4()
        await db.execute("INSERT INTO bench.sessions (id) VALUES ($1)", old_sid)
        await db.execute(OLD_FILL, old_sid, 5000, CONTENT)

        async def old_append() -> object:
            return await db.execute(OLD_APPEND, old_sid, "user", CONTENT)

        old_wal = await wal_of(db, old_append, k)
        new_wal = []
        for _ in range(3):  # the least of three: the figure closest to our own share of the WAL
            sid = uuid.UUID(await service_session(5000))

            async def new_append(sid: uuid.UUID = sid) -> object:
                return await db.execute(BARE_APPEND, sid, user_id, "user", CONTENT, nbytes)

            new_wal.append(await wal_of(db, new_append, k))
        new = min(new_wal)
        print(f"  old storage (the JSONB-array append): {old_wal / 1e6:10.1f} MB  ({old_wal / k:,.0f} B per append)")
        print(f"  messages as rows (this service):      {new / 1e6:10.1f} MB  ({new / k:,.0f} B per append)")
        summary.append(
            f"  WAL for {k:,} appends at 5,000 messages:        {new / 1e6:.1f} MB vs "
            f"{old_wal / 1e6:.1f} MB for the old storage ({old_wal / new:.0f}x less)"
        )

        print(f"\nWrite amplification: WAL for listing {k:,} runs in a row on a session already listing 5,000")
        await db.execute(OLD_FILL_RUNS, old_sid, 5000)

        async def old_record() -> object:
            return await db.execute(OLD_RECORD_RUN, old_sid, str(uuid.uuid4()))

        old_runs_wal = await wal_of(db, old_record, k)
        new_runs_wal = []
        for _ in range(3):
            sid = uuid.UUID(await service_session(0))
            await db.execute(FILL_RUNS, sid, 5000)

            async def new_record(sid: uuid.UUID = sid) -> object:
                return await db.execute(BARE_RECORD_RUN, sid, user_id, uuid.uuid4())

            new_runs_wal.append(await wal_of(db, new_record, k))
        new_runs = min(new_runs_wal)
        old_per_run = old_runs_wal / k
        print(f"  old storage (the JSONB-array append): {old_runs_wal / 1e6:10.1f} MB  ({old_per_run:,.0f} B per run)")
        print(f"  runs as rows (this service):          {new_runs / 1e6:10.1f} MB  ({new_runs / k:,.0f} B per run)")
        summary.append(
            f"  WAL for listing {k:,} runs at 5,000 runs:       {new_runs / 1e6:.1f} MB vs "
            f"{old_runs_wal / 1e6:.1f} MB for the old storage ({old_runs_wal / new_runs:.0f}x less)"
        )
        print("\nSummary, each beside its baseline from this run:")
        print("\n".join(summary))
    finally:
        for client in clients.values():
            await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1600, help="requests per throughput line")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--appends", type=int, default=20, help="appends per size in the latency table")
    parser.add_argument("--wal-appends", type=int, default=1000, help="appends per storage in the WAL figure")
    parser.add_argument("--no-reads", action="store_true", help="skip the read tables")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.bare_server:
        import uvicorn

        uvicorn.run(bare_app(args.dsn), host="127.0.0.1", port=args.bare_server, log_level="warning", access_log=False)
        return 0

    started = time.monotonic()
    secret = os.environ.setdefault("ECHO_JWT_SECRET", secrets.token_urlsafe(32))
    url = BASE_DB.rsplit("/", 1)[0] + f"/echoai_bench_{uuid.uuid4().hex[:8]}"
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    namespace = f"echobench.{uuid.uuid4().hex[:8]}"
    log_dir = Path(tempfile.mkdtemp(prefix="echoai-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    platforms: list[Platform] = []
    asyncio.run(dbadmin.ensure_database(url))
    try:
        for service in migrations.SERVICES:
            migrations.upgrade(service, "head", url)

        memcached_port = free_port()
        procs.append(
            subprocess.Popen(
                ["/usr/bin/memcached", "-u", "root", "-l", "127.0.0.1", "-p", str(memcached_port), "-m", "64"]
            )
        )
        while not port_open("127.0.0.1", memcached_port):
            time.sleep(0.05)
        args.memcached_port = memcached_port
        common = {
            "ECHO_BROKER_NAMESPACE": namespace,
            "ECHO_JWT_SECRET": secret,
            "ECHO_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        }
        memcached = f"127.0.0.1:{memcached_port}"
        on = make_platform(url, AMQP, memcached, log_dir / "on", **common)
        off = make_platform(url, AMQP, memcached, log_dir / "off", ECHO_CACHE_ENABLED="false", **common)
        # A session service whose Memcached is a port nobody listens on: the cache-is-down path.
        down = make_platform(url, AMQP, f"127.0.0.1:{free_port()}", log_dir / "down", **common)
        platforms += [on, off, down]
        (log_dir / "on").mkdir()
        (log_dir / "off").mkdir()
        (log_dir / "down").mkdir()
        on.start_all()
        for name in ("session", "gateway"):
            off.start(name)
        down.start("session")
        for name in ("session", "gateway"):
            off.wait_healthy(name)
        down.wait_healthy("session")
        bare_port = free_port()
        procs.append(
            subprocess.Popen([sys.executable, __file__, "--bare-server", str(bare_port), "--dsn", dsn], cwd=ROOT)
        )
        wait_http(f"http://127.0.0.1:{bare_port}/health", procs[-1])

        async def go() -> None:
            db = await asyncpg.connect(dsn)
            try:
                await db.execute(OLD_SCHEMA)
                await run(args, on, off, down, bare_port, db)
            finally:
                await db.close()

        took = time.monotonic() - started
        print(f"EchoAI session bench: {os.cpu_count()} CPUs, loopback; services started in {took:.0f}s")
        asyncio.run(go())
    finally:
        for p in platforms:
            p.stop_all()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        asyncio.run(dbadmin.drop_database(url))
        delete_namespace(AMQP, namespace)
    print(f"\ndone in {time.monotonic() - started:.0f}s (logs in {log_dir})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
