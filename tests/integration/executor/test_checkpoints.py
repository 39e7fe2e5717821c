"""Checkpoint decisions against real PostgreSQL and RabbitMQ (the executor in process, its real consumer):
sweepers on several replicas decide each due checkpoint once, a person racing the timeout either wins or gets
409, and the migration carries checkpoints of the older shape over and back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.executor.models import Base
from services.executor.runtime.sweeper import Sweeper
from shared import dbadmin, migrations
from tests.integration.executor.conftest import Executor, agent
from tests.support.servers import fresh_database_url

pytestmark = pytest.mark.integration


def _timed(on_timeout: str, timeout_s: float) -> dict[str, Any]:
    hitl = {"mode": "approval", "timeout_s": timeout_s, "on_timeout": on_timeout}
    return {"agents": [agent("c", "Checker", "Check {message}", hitl=hitl), agent("d", "Doer", "Do {message}")]}


def _sweeper(executor: Executor) -> Sweeper:
    state = executor.app.state
    return Sweeper(state.sessionmaker, state.broker, state.events, interval=1.0)


async def _paused(executor: Executor, run_ids: list[uuid.UUID]) -> None:
    async with asyncio.timeout(60):
        for run_id in run_ids:
            while (await executor.execution(run_id))["status"] != "paused":
                await asyncio.sleep(0.05)


async def _checkpoint(executor: Executor, run_id: uuid.UUID) -> dict[str, Any]:
    r = await executor.client.get(f"/executions/{run_id}/checkpoints", headers=executor.headers)
    assert r.status_code == 200, r.text
    [checkpoint] = r.json()["items"]
    return dict(checkpoint)


@pytest.fixture
async def no_app_sweeper(executor: Executor) -> Any:
    """The in-process executor's own sweeper stands aside, so the test counts every timeout decision itself."""
    await executor.app.state.sweeper.stop()
    try:
        yield
    finally:
        executor.app.state.sweeper.start()


async def test_sweepers_on_several_replicas_decide_each_due_checkpoint_once(
    executor: Executor, no_app_sweeper: None
) -> None:
    requests = [await executor.submit(_timed("approve", 0.5), message=f"m{i}") for i in range(8)]
    run_ids = [r.run_id for r in requests]
    await _paused(executor, run_ids)
    await asyncio.sleep(0.7)  # every deadline has passed
    sweepers = [_sweeper(executor) for _ in range(3)]
    decided = 0
    async with asyncio.timeout(30):
        while decided < len(run_ids):
            counts = await asyncio.gather(*(s.sweep() for s in sweepers))
            decided += sum(counts)
    assert decided == len(run_ids)
    assert sum(await asyncio.gather(*(s.sweep() for s in sweepers))) == 0  # nothing is decided twice
    for run_id in run_ids:
        run = await executor.finished(run_id)
        assert run["status"] == "completed", run
        events = await executor.tap.until_terminal(run_id)
        resumed = [e for e in events if e.type == "run_resumed"]
        assert len(resumed) == 1 and resumed[0].data["by"] == "timeout"
        assert [e.step_id for e in events if e.type == "step_started"] == ["c", "d"]
        checkpoint = await _checkpoint(executor, run_id)
        assert (checkpoint["status"], checkpoint["reason"], checkpoint["decided_by"]) == ("approved", "timeout", None)


async def test_a_person_racing_the_timeout_either_wins_or_gets_409(executor: Executor, no_app_sweeper: None) -> None:
    requests = [await executor.submit(_timed("reject", 0.5)) for _ in range(4)]
    run_ids = [r.run_id for r in requests]
    await _paused(executor, run_ids)
    checkpoints = {run_id: (await _checkpoint(executor, run_id))["checkpoint_id"] for run_id in run_ids}
    await asyncio.sleep(0.7)

    async def person(run_id: uuid.UUID) -> int:
        r = await executor.client.post(
            f"/executions/{run_id}/checkpoints/{checkpoints[run_id]}/decision",
            json={"action": "approve"},
            headers=executor.headers,
        )
        assert r.status_code in (200, 409), r.text
        return r.status_code

    *answers, swept = await asyncio.gather(*(person(run_id) for run_id in run_ids), _sweeper(executor).sweep())
    assert answers.count(200) + swept == len(run_ids)
    for run_id, answer in zip(run_ids, answers, strict=True):
        checkpoint = await _checkpoint(executor, run_id)
        run = await executor.finished(run_id)
        if answer == 200:
            assert (checkpoint["status"], checkpoint["reason"], run["status"]) == ("approved", "person", "completed")
        else:
            assert (checkpoint["status"], checkpoint["reason"], run["status"]) == ("rejected", "timeout", "failed")


def test_migration_carries_checkpoints_over_and_back(base_database_url: str) -> None:
    url = fresh_database_url(base_database_url)
    asyncio.run(dbadmin.ensure_database(url))
    run_id, user_id, workflow_id, checkpoint_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def sql(statement: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dbadmin.asyncpg_dsn(url))
        try:
            return list(await conn.fetch(statement, *args))
        finally:
            await conn.close()

    async def drift() -> list[Any]:
        engine = create_async_engine(url)

        def compare(conn: Connection) -> list[Any]:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_schemas": True,
                    "include_name": lambda name, type_, _: name == "executor" if type_ == "schema" else True,
                    "version_table_schema": "executor",
                },
            )
            return list(compare_metadata(context, Base.metadata))

        try:
            async with engine.connect() as conn:
                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    try:
        migrations.upgrade("executor", "e5c1a7d90b01", url)
        asyncio.run(
            sql(
                "INSERT INTO executor.executions (run_id, workflow_id, user_id, status, request) "
                "VALUES ($1, $2, $3, 'paused', '{}')",
                run_id,
                workflow_id,
                user_id,
            )
        )
        asyncio.run(
            sql(
                "INSERT INTO executor.checkpoints (checkpoint_id, run_id, step_id, agent_id, status, output) "
                "VALUES ($1, $2, 's', 'agent-s', 'pending', 'under review')",
                checkpoint_id,
                run_id,
            )
        )
        migrations.upgrade("executor", "head", url)
        [row] = asyncio.run(sql("SELECT * FROM executor.hitl_checkpoints"))
        assert (row["checkpoint_id"], row["user_id"], row["workflow_id"]) == (checkpoint_id, user_id, workflow_id)
        assert (row["agent_name"], row["status"], row["on_timeout"], row["expires_at"]) == (
            "agent-s",
            "pending",
            "reject",
            None,
        )
        # The tables the models describe are the tables the migrations build.
        assert asyncio.run(drift()) == []
        migrations.downgrade("executor", "e5c1a7d90b01", url)
        [old] = asyncio.run(sql("SELECT checkpoint_id, status, output FROM executor.checkpoints"))
        assert tuple(old) == (checkpoint_id, "pending", "under review")
    finally:
        asyncio.run(dbadmin.drop_database(url))


async def test_hierarchical_worker_pauses_and_the_rest_waits(executor: Executor) -> None:
    definition = {
        "execution_model": "hierarchical",
        "manager": {"llm": {"provider": "echo"}},
        "agents": [
            agent("p", "Planner", "Plan {message}", hitl={"mode": "approval"}),
            agent("d", "Doer", "Do {message}", repeat_context=True),
        ],
    }
    request = await executor.submit(definition, message="a picnic")
    paused = await executor.tap.until(request.run_id, "run_paused")
    assert paused.data["step_id"] == "p" and paused.data["output"].startswith("Planner: Plan a picnic")
    await asyncio.sleep(0.5)
    assert [e.step_id for e in executor.tap.events[request.run_id] if e.type == "step_started"] == ["manager", "p"]
    assert (await executor.execution(request.run_id))["status"] == "paused"
    r = await executor.client.post(
        f"/executions/{request.run_id}/checkpoints/{paused.data['checkpoint_id']}/decision",
        json={"action": "edit", "output": "PLAN B: sandwiches by the lake"},
        headers=executor.headers,
    )
    assert r.status_code == 200, r.text
    events = await executor.tap.until_terminal(request.run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.step_id for e in events if e.type == "step_started"] == ["manager", "p", "d"]
    run = await executor.finished(request.run_id)
    assert run["status"] == "completed"
    assert "PLAN B: sandwiches by the lake" in run["output"] and "Planner: Plan a picnic" not in run["output"]
