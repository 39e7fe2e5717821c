"""Every service's migrations go up from empty and back down to empty, in a database of their own."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared import dbadmin, migrations
from tests.support.servers import fresh_database_url

pytestmark = pytest.mark.integration


def _tables(url: str, schema: str) -> set[str]:
    async def run() -> set[str]:
        dsn = dbadmin.asyncpg_dsn(url)
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
            return {r["tablename"] for r in rows}
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.mark.parametrize("service", migrations.SERVICES)
def test_upgrade_then_downgrade_to_empty(service: str, base_database_url: str) -> None:
    url = fresh_database_url(base_database_url)
    asyncio.run(dbadmin.ensure_database(url))
    try:
        migrations.upgrade(service, "head", url)
        assert "alembic_version" in _tables(url, service)
        migrations.downgrade(service, "base", url)
        assert _tables(url, service) == {"alembic_version"}
        # And up again: downgrades leave nothing behind that blocks a re-upgrade.
        migrations.upgrade(service, "head", url)
    finally:
        asyncio.run(dbadmin.drop_database(url))


def test_gateway_migration_seeds_admin(database_url: str) -> None:
    async def run() -> str | None:
        dsn = dbadmin.asyncpg_dsn(database_url)
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval(
                "SELECT email FROM gateway.users WHERE user_id = '00000000-0000-0000-0000-000000000001'"
            )
        finally:
            await conn.close()

    assert asyncio.run(run()) == "admin@echoai.local"
