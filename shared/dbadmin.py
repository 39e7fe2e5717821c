"""Create (or drop) the platform's database; used by `make run` and the test suite."""

from __future__ import annotations

import asyncio
import sys

import asyncpg
from sqlalchemy.engine import make_url

from shared.settings import get_settings


def asyncpg_dsn(url: str, database: str | None = None) -> str:
    """The platform's SQLAlchemy URL (`postgresql+asyncpg://…`) as a DSN for a bare asyncpg connection; `database`
    names another database on the same server."""
    u = make_url(url).set(drivername="postgresql")
    if database is not None:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


async def ensure_database(url: str) -> bool:
    """Create the database named in `url` if missing; True when it was created."""
    name = make_url(url).database
    assert name, "the database URL names no database"
    conn = await asyncpg.connect(asyncpg_dsn(url, "postgres"), timeout=5)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    name = make_url(url).database
    conn = await asyncpg.connect(asyncpg_dsn(url, "postgres"), timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> int:
    url = get_settings().database_url
    try:
        created = asyncio.run(ensure_database(url))
    except (OSError, asyncpg.PostgresError) as exc:
        print(
            f"PostgreSQL is not reachable at {make_url(url).render_as_string(hide_password=True)} ({exc}). "
            "Start it (e.g. `docker compose up -d postgres rabbitmq memcached`) or set ECHO_DATABASE_URL.",
            file=sys.stderr,
        )
        return 1
    print(f"database {make_url(url).database}: {'created' if created else 'present'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
