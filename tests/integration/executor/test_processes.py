"""Executors that die or stop mid-run, as real processes in a broker namespace of their own (so the in-process
executor of the other tests does not take these requests).

- SIGTERM hands the run back (a fresh copy, not a failed delivery); SIGKILL leaves it to the broker's redelivery.
  Either way the next executor resumes after the last finished step and continues the event sequence.
- A run whose executor dies every time is dead-lettered after 3 deliveries and ends `failed` with the reason.
- ECHO_TRANSPARENCY_ENABLED=false: runs complete and not one step event is published.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from services.executor.models import Execution, ExecutionStep
from shared.messaging import Broker, RunControlV1
from shared.messaging.topology import MAX_DELIVERIES, RUN_REQUESTS_KEY
from shared.settings import get_settings
from tests.integration.executor.conftest import EventTap, Executor, agent, open_tap
from tests.support.broker import _delete_namespace
from tests.support.platform import Platform, make_platform
from tests.support.servers import Servers

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Isolated:
    def __init__(self, platform: Platform, broker: Broker, tap: EventTap, executor: Executor):
        self.platform, self.broker, self.tap, self.executor = platform, broker, tap, executor

    def start(self, **env: str) -> None:
        self.platform.start("executor", extra_env=env)

    async def send(self, definition: dict) -> uuid.UUID:  # type: ignore[type-arg]
        request = self.executor.request(definition)
        await self.executor.insert(request)
        await self.broker.publish(self.broker.topology.runs_exchange, RUN_REQUESTS_KEY, request, mandatory=True)
        return request.run_id

    async def until(self, run_id: uuid.UUID, ok: Callable[[Execution, dict[str, ExecutionStep]], bool]) -> Execution:
        async with asyncio.timeout(60):
            while True:
                async with self.executor.app.state.sessionmaker() as session:
                    row = await session.get(Execution, run_id)
                    steps = (
                        await session.execute(select(ExecutionStep).where(ExecutionStep.run_id == run_id))
                    ).scalars()
                    by_id = {s.step_id: s for s in steps}
                assert row is not None
                if ok(row, by_id):
                    return row
                await asyncio.sleep(0.1)

    async def steps(self, run_id: uuid.UUID) -> dict[str, ExecutionStep]:
        async with self.executor.app.state.sessionmaker() as session:
            rows = (await session.execute(select(ExecutionStep).where(ExecutionStep.run_id == run_id))).scalars()
            return {s.step_id: s for s in rows}


@pytest.fixture
async def isolated(database_url: str, servers: Servers, tmp_path: Path, executor: Executor) -> AsyncIterator[Isolated]:
    namespace = f"{get_settings().broker_namespace}.dl{uuid.uuid4().hex[:6]}"
    platform = make_platform(
        database_url, servers.amqp_url, servers.memcached, tmp_path, ECHO_BROKER_NAMESPACE=namespace
    )
    broker = Broker(get_settings().model_copy(update={"broker_namespace": namespace}), name="test-isolated")
    broker.start()
    assert await broker.wait_connected(10)
    try:
        async with open_tap(namespace) as tap:
            yield Isolated(platform, broker, tap, executor)
    finally:
        platform.stop_all()
        await broker.close()
        await _delete_namespace(servers.amqp_url, namespace)


def _running(step_id: str, attempt: int) -> Callable[[Execution, dict[str, ExecutionStep]], bool]:
    def ok(row: Execution, steps: dict[str, ExecutionStep]) -> bool:
        step = steps.get(step_id)
        return step is not None and step.status == "running" and step.attempt == attempt

    return ok


async def test_stopped_or_killed_executor_resumes_after_the_last_finished_step(isolated: Isolated) -> None:
    definition = {
        "agents": [
            agent("s1", "First", "Start {message}"),
            agent("s2", "Second", "Continue", delay_ms=3000),
            agent("s3", "Third", "Finish", delay_ms=3000),
        ]
    }
    run_id = await isolated.send(definition)
    isolated.platform.start("executor")
    await isolated.until(run_id, _running("s2", 1))
    isolated.platform.stop("executor", signal.SIGTERM)  # graceful: the run goes back as a fresh copy
    s1_done = (await isolated.steps(run_id))["s1"].completed_at

    isolated.platform.start("executor")
    await isolated.until(run_id, _running("s3", 1))  # still attempt 1: a handback is no failed delivery
    isolated.platform.stop("executor", signal.SIGKILL)

    isolated.platform.start("executor")
    row = await isolated.until(run_id, lambda r, s: r.status == "completed")
    assert row.attempt == 2
    steps = await isolated.steps(run_id)
    assert steps["s1"].completed_at == s1_done and steps["s1"].attempt == 1  # never ran again
    assert (steps["s2"].attempt, steps["s3"].attempt) == (1, 2)
    assert row.output == "Third: Finish [built on: First, Second]"

    events = await isolated.tap.until_terminal(run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    types = [e.type for e in events]
    assert types[0] == "run_started" and types.count("run_resumed") == 2 and types[-1] == "run_completed"
    assert [e.step_id for e in events if e.type == "step_completed"] == ["s1", "s2", "s3"]


def _attempt_running(attempt: int) -> Callable[[Execution, dict[str, ExecutionStep]], bool]:
    """This delivery is inside the step (recorded `running` with this attempt), not between claim and step."""
    in_step = _running("slow", attempt)
    return lambda row, steps: row.status == "running" and row.attempt == attempt and in_step(row, steps)


async def test_run_that_kills_its_executor_is_dead_lettered_and_failed(isolated: Isolated) -> None:
    run_id = await isolated.send({"agents": [agent("slow", "Sloth", "Take forever", delay_ms=120_000)]})
    for attempt in range(1, MAX_DELIVERIES + 1):
        isolated.platform.start("executor")
        await isolated.until(run_id, _attempt_running(attempt))
        isolated.platform.stop("executor", signal.SIGKILL)

    isolated.platform.start("executor")  # a healthy executor reads the dead letter
    row = await isolated.until(run_id, lambda r, s: r.status == "failed")
    assert row.attempt == MAX_DELIVERIES
    assert row.error is not None
    assert f"{MAX_DELIVERIES} delivery attempts" in row.error and "delivery_limit" in row.error
    step = (await isolated.steps(run_id))["slow"]
    assert step.status == "failed" and step.attempt == MAX_DELIVERIES
    events = await isolated.tap.until_terminal(run_id)
    assert events[-1].type == "run_failed" and "delivery attempts" in events[-1].data["error"]


async def test_transparency_off_publishes_no_events_and_runs_complete(isolated: Isolated) -> None:
    isolated.start(ECHO_TRANSPARENCY_ENABLED="false")
    definition = {"agents": [agent("a", "Quiet", "Shh"), agent("b", "Hush", "Shh, {message}")]}
    run_id = await isolated.send(definition)
    row = await isolated.until(run_id, lambda r, s: r.status == "completed")
    assert row.last_seq == 0 and row.output == "Hush: Shh, [built on: Quiet]"
    await asyncio.sleep(0.5)
    assert isolated.tap.events[run_id] == []


async def test_a_cancel_reaches_the_executor_process_that_holds_the_run(isolated: Isolated) -> None:
    """The row's flag is set by whichever API took the cancel; the nudge on the control exchange reaches every
    executor, and the one holding the run stops waiting for its model call (60 s here) at once."""
    isolated.start()
    definition = {"agents": [agent("slow", "Sloth", "Take forever", delay_ms=60_000), agent("next", "Next", "Then")]}
    run_id = await isolated.send(definition)
    await isolated.until(run_id, lambda r, s: "slow" in s and s["slow"].status == "running")
    executor = isolated.executor
    r = await executor.client.post(f"/executions/{run_id}/cancel", headers=executor.headers)
    assert r.status_code == 202 and r.json()["cancel_requested"] is True
    # That API lives in another broker namespace than the isolated process: send its nudge where the run is.
    started = asyncio.get_running_loop().time()
    broker = isolated.broker
    await broker.publish(
        broker.topology.control_exchange, "", RunControlV1(run_id=run_id, action="cancel"), persistent=False
    )
    row = await isolated.until(run_id, lambda r, s: r.status == "cancelled")
    assert asyncio.get_running_loop().time() - started < 30  # not the 60 s the model call takes
    assert row.output is None
    steps = await isolated.steps(run_id)
    assert [(k, s.status) for k, s in steps.items()] == [("slow", "cancelled")]
    events = await isolated.tap.until_terminal(run_id)
    assert [e.type for e in events] == ["run_started", "step_started", "run_cancelled"]
