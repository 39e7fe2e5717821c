"""The executor's workflow cache against real PostgreSQL: the workflow service's trigger announces each committed
change, and a get after that commit never answers the old workflow from memory.

The writes here are plain SQL on `workflow.workflows`, as any writer of the table would make them (the trigger
covers them all); `fetch` stands in for the workflow service's HTTP answer by reading the row."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest

from services.executor.definitions import WorkflowCache
from shared.contracts import WorkflowOut
from shared.dbadmin import asyncpg_dsn

pytestmark = pytest.mark.integration


@dataclass
class Table:
    """One workflow row, written and read on connections of the test's own."""

    conn: asyncpg.Connection
    user_id: uuid.UUID = field(default_factory=uuid.uuid4)
    workflow_id: uuid.UUID = field(default_factory=uuid.uuid4)
    reads: int = 0

    async def save(self, name: str) -> None:
        definition = json.dumps({"name": name, "agents": []})
        await self.conn.execute(
            "INSERT INTO workflow.workflows (workflow_id, user_id, name, status, definition) "
            "VALUES ($1, $2, $3, 'draft', $4::jsonb) "
            "ON CONFLICT (workflow_id) DO UPDATE SET name = EXCLUDED.name, definition = EXCLUDED.definition",
            self.workflow_id,
            self.user_id,
            name,
            definition,
        )

    async def fetch(self) -> WorkflowOut:
        self.reads += 1
        row = await self.conn.fetchrow(
            "SELECT workflow_id, name, status, version, definition FROM workflow.workflows WHERE workflow_id = $1",
            self.workflow_id,
        )
        assert row is not None
        return WorkflowOut.model_validate({**dict(row), "definition": json.loads(row["definition"])})


async def until_listening(cache: WorkflowCache) -> None:
    async with asyncio.timeout(15):
        while not cache.listening:
            await asyncio.sleep(0.02)


@pytest.fixture
async def cache(database_url: str) -> AsyncIterator[WorkflowCache]:
    cache = WorkflowCache(database_url, max_bytes=1 << 20)
    cache.start()
    await until_listening(cache)
    yield cache
    await cache.close()


@pytest.fixture
async def table(database_url: str) -> AsyncIterator[Table]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    table = Table(conn)
    await table.save("v0")
    yield table
    await conn.execute("DELETE FROM workflow.workflows WHERE workflow_id = $1", table.workflow_id)
    await conn.close()


async def get(cache: WorkflowCache, table: Table, user_id: uuid.UUID | None = None) -> WorkflowOut:
    return await cache.get(user_id or table.user_id, table.workflow_id, table.fetch)


async def test_a_get_after_a_commit_never_answers_the_old_workflow(cache: WorkflowCache, table: Table) -> None:
    for i in range(1, 101):
        await get(cache, table)
        reads = table.reads
        assert (await get(cache, table)).name == f"v{i - 1}"
        assert table.reads == reads, "an unchanged workflow is answered from memory"
        await table.save(f"v{i}")  # committed: the next get must see it, whatever the notice's timing
        assert (await get(cache, table)).name == f"v{i}"


async def test_a_read_that_overlapped_a_change_is_not_kept(cache: WorkflowCache, table: Table) -> None:
    async def read_then_change() -> WorkflowOut:
        old = await table.fetch()
        (read,) = cache._reads[table.workflow_id]
        await table.save("newer")  # commits after the read: `old` is stale from here on
        async with asyncio.timeout(5):  # the notice arrives before the read ends: nothing later would drop `old`
            while not read.spoiled:
                await asyncio.sleep(0.01)
        return old

    assert (await cache.get(table.user_id, table.workflow_id, read_then_change)).name == "v0"
    reads = table.reads
    assert (await get(cache, table)).name == "newer"
    assert table.reads == reads + 1


async def test_each_answer_is_a_copy(cache: WorkflowCache, table: Table) -> None:
    await get(cache, table)
    first = await get(cache, table)
    first.definition["name"] = "changed by a run"
    assert (await get(cache, table)).definition["name"] == "v0"


async def test_another_user_is_never_answered_from_memory(cache: WorkflowCache, table: Table) -> None:
    await get(cache, table)
    reads = table.reads
    await get(cache, table, user_id=uuid.uuid4())
    assert table.reads == reads + 1


async def test_a_deleted_workflow_is_read_again(cache: WorkflowCache, table: Table) -> None:
    await get(cache, table)
    reads = table.reads
    await table.conn.execute(
        "UPDATE workflow.workflows SET deleted_at = now() WHERE workflow_id = $1", table.workflow_id
    )
    await get(cache, table)
    assert table.reads == reads + 1


async def test_without_the_trigger_every_get_reads_over_http(cache: WorkflowCache, table: Table) -> None:
    await get(cache, table)
    await table.conn.execute("ALTER TABLE workflow.workflows DISABLE TRIGGER announce_workflow_change")
    try:
        reads = table.reads
        await get(cache, table)
        await get(cache, table)
        assert table.reads == reads + 2
        assert not cache.listening
    finally:
        await table.conn.execute("ALTER TABLE workflow.workflows ENABLE TRIGGER announce_workflow_change")
    await until_listening(cache)


async def test_a_change_made_while_the_trigger_was_off_is_seen(cache: WorkflowCache, table: Table) -> None:
    await get(cache, table)
    async with table.conn.transaction():  # as an operator's load might: nothing announced in between
        await table.conn.execute("ALTER TABLE workflow.workflows DISABLE TRIGGER announce_workflow_change")
        await table.save("unannounced")
        await table.conn.execute("ALTER TABLE workflow.workflows ENABLE TRIGGER announce_workflow_change")
    assert (await get(cache, table)).name == "unannounced"
    assert cache.listening


async def test_a_lost_connection_reads_over_http_then_listens_again(cache: WorkflowCache, table: Table) -> None:
    await get(cache, table)
    conn = cache._conn
    assert conn is not None
    await table.conn.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())
    await table.save("while deaf")
    assert (await get(cache, table)).name == "while deaf"
    await until_listening(cache)
    # A new listener may be handed a few notices committed just before it listened ("we might get a few more",
    # PostgreSQL's async.c): each costs one more read, never a stale answer.
    for _ in range(20):
        reads = table.reads
        assert (await get(cache, table)).name == "while deaf"
        if table.reads == reads:
            break
    else:
        pytest.fail("never answered from memory again after reconnecting")


async def test_off_when_the_database_is_out_of_reach() -> None:
    cache = WorkflowCache("postgresql+asyncpg://postgres@127.0.0.1:1/none", max_bytes=1 << 20)
    cache.start()
    try:
        await asyncio.sleep(0.2)
        assert not cache.listening
        fetched = WorkflowOut(workflow_id=uuid.uuid4(), name="n", status="draft", definition={})

        async def fetch() -> WorkflowOut:
            return fetched

        assert await cache.get(uuid.uuid4(), fetched.workflow_id, fetch) is fetched
    finally:
        with contextlib.suppress(Exception):
            await cache.close()
