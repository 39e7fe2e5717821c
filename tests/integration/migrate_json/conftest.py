"""Each test gets a database of its own, cloned from one migrated template (cheap: no migrations per test),
because the sample's UUID-shaped IDs are global: two tests migrating it for different owners would collide."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from shared import dbadmin, migrations
from shared.settings import get_settings
from tests.support.servers import fresh_database_url
from tools.migrate_json.migrate import migrate
from tools.migrate_json.report import Report

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "legacy-sample"


@pytest.fixture(scope="session")
def template_url(base_database_url: str) -> Iterator[str]:
    url = fresh_database_url(base_database_url)
    asyncio.run(dbadmin.ensure_database(url))
    for service in migrations.SERVICES:
        migrations.upgrade(service, "head", url)
    yield url
    asyncio.run(dbadmin.drop_database(url))


@pytest.fixture
async def db_url(template_url: str) -> AsyncIterator[str]:
    url = make_url(template_url).set(database=f"echoai_mig_{uuid.uuid4().hex[:10]}").render_as_string(False)
    admin = await asyncpg.connect(dbadmin.asyncpg_dsn(template_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{make_url(url).database}" TEMPLATE "{make_url(template_url).database}"')
    finally:
        await admin.close()
    yield url
    await dbadmin.drop_database(url)


@pytest.fixture
async def pg(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dbadmin.asyncpg_dsn(db_url))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A writable copy of the legacy sample."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "legacy"))


ADMIN = get_settings().admin_user_id


async def run(source: Path, db_url: str, owner: str | None = None, dry_run: bool = False) -> Report:
    return await migrate(source, database_url=db_url, admin_user_id=ADMIN, owner_email=owner, dry_run=dry_run)


def counts(report: Report) -> dict[str, tuple[int, ...]]:
    """(seen, migrated, unchanged, skipped, rows) per resource."""
    out: dict[str, tuple[int, ...]] = {}
    for resource in ("agents", "workflows", "sessions", "tools"):
        c = report.counts(resource)  # type: ignore[arg-type]
        out[resource] = (c.seen, c.migrated, c.unchanged, c.skipped, c.rows)
    return out


def skipped(report: Report) -> dict[str, str]:
    return {f.path: f.reason or "" for f in report.files if f.outcome == "skipped"}


TABLES = {
    "agents": "SELECT * FROM workflow.agents ORDER BY agent_id",
    "workflows": "SELECT * FROM workflow.workflows ORDER BY workflow_id",
    "versions": "SELECT * FROM workflow.workflow_versions ORDER BY workflow_id, version",
    "tools": "SELECT * FROM workflow.tools ORDER BY tool_id",
    "sessions": "SELECT * FROM session.chat_sessions ORDER BY session_id",
    "messages": "SELECT * FROM session.messages ORDER BY session_id, seq",
}


async def snapshot(pg: asyncpg.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row, timestamps and versions included: equal snapshots mean nothing was written."""
    return {name: [dict(r) for r in await pg.fetch(sql)] for name, sql in TABLES.items()}


# A session's messages in the API's shape (what `GET /sessions/{id}` answers with), read straight from the table.
MESSAGES = """SELECT coalesce(json_agg(json_build_object('message_id', message_id, 'seq', seq, 'role', role,
    'content', content, 'metadata', metadata, 'run_id', run_id,
    'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) ORDER BY seq), '[]')::text
FROM session.messages WHERE session_id = $1"""


async def messages_of(pg: asyncpg.Connection, session_id: uuid.UUID) -> list[dict[str, Any]]:
    return json.loads(await pg.fetchval(MESSAGES, session_id))  # type: ignore[no-any-return]


async def add_user(pg: asyncpg.Connection, email: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    await pg.execute("INSERT INTO gateway.users (user_id, email) VALUES ($1, $2)", user_id, email)
    return user_id
