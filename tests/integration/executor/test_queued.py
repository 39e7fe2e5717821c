"""`chat/send` publishes a `RunQueuedV1` before its row exists (the publish overlaps reading the workflow): the
executor waits for the send's lock, then runs the request stored in the row. (Delivered twice, or with no row:
`test_robustness.py`.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.executor.repository import SendRepository
from shared.db import driver_of
from tests.integration.executor.conftest import Executor, agent, row_of

pytestmark = pytest.mark.integration


async def test_a_queued_run_waits_for_the_send_that_holds_its_lock(executor: Executor) -> None:
    """The message arrives while the send still holds its lock and has not written the row: nothing happens until
    the send writes it and lets go, then the run starts from the written row."""
    request = executor.request(
        {"agents": [agent("a", "Solo", "Say {message}")]}, message="later", workflow_name="Queued behind its send"
    )
    async with executor.app.state.engine.connect() as conn:
        statements = SendRepository(await driver_of(conn))
        await statements.hold(request.run_id)
        await executor.publish(executor.queued(request))
        await asyncio.sleep(1.0)
        assert executor.tap.events[request.run_id] == []  # waiting on the lock, not dropped
        await statements.insert(**row_of(request))
        await asyncio.sleep(0.5)
        assert executor.tap.events[request.run_id] == []  # the row is there, the lock still held
        await statements.release()
    events = await executor.tap.until_terminal(request.run_id)
    assert events[0].type == "run_started" and events[-1].type == "run_completed"
    run = await executor.finished(request.run_id)
    assert run["status"] == "completed" and run["workflow_name"] == request.workflow_name


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        ({"definition": {"agents": []}}, "The workflow definition cannot run: The workflow has no agents"),
        ({"definition": "not an object"}, "The run's stored request cannot be read"),
    ],
)
async def test_a_stored_request_that_does_not_build_fails_the_run_without_a_gap(
    executor: Executor, stored: dict[str, Any], why: str
) -> None:
    """Its send checked the definition, so this takes a change between send and run (or a damaged row): the seq
    the claim took for the opening event is spent on it, then the run fails with the reason."""
    request = executor.request({"agents": [agent("a", "Solo", "Hi")]})
    await executor.insert(request, stored=stored)
    await executor.publish(executor.queued(request))
    events = await executor.tap.until_terminal(request.run_id)
    assert [(e.type, e.seq) for e in events] == [("run_started", 1), ("run_failed", 2)]
    run = await executor.finished(request.run_id)
    assert run["status"] == "failed" and run["error"].startswith(why), run["error"]
