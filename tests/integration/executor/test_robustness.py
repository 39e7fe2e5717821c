"""Redelivery never runs a run (or a finished step) twice; cancel stops queued and running runs; a request that
cannot be processed is dead-lettered with its reason; the API shows only the caller's runs."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, text, update

from services.executor.models import Execution, ExecutionStep
from services.executor.repository import ExecutionRepository
from tests.integration.executor.conftest import Executor, agent
from tests.integration.executor.http_stub import Seen, http_stub
from tests.support.auth import headers_for

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", ["request", "queued"])
async def test_same_request_delivered_twice_runs_once(executor: Executor, kind: str) -> None:
    """Either message: a RunRequestV1 carries the request, a RunQueuedV1 (what `chat/send` publishes) has the run
    read it from its row."""
    definition = {"agents": [agent("a", "One", "First {message}", delay_ms=200), agent("b", "Two", "Second")]}
    request = executor.request(definition, message="xyzzy")
    await executor.insert(request)
    message = request if kind == "request" else executor.queued(request)
    await executor.publish(message)
    await executor.publish(message)
    events = await executor.tap.until_terminal(request.run_id)
    await asyncio.sleep(0.5)  # let the second copy be consumed too
    events = sorted(executor.tap.events[request.run_id], key=lambda e: e.seq)
    assert [e.type for e in events].count("run_started") == 1
    assert [e.step_id for e in events if e.type == "step_started"] == ["a", "b"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    async with executor.app.state.sessionmaker() as session:
        count = await session.scalar(select(func.count()).where(ExecutionStep.run_id == request.run_id))
    assert count == 2
    assert "xyzzy" in (await executor.steps(request.run_id))[0]["output"]


async def test_redelivered_run_skips_finished_steps_and_feeds_their_output_forward(executor: Executor) -> None:
    """As if an executor died after step a: a is recorded completed, the run is `running`, the request comes back."""

    def answer(seen: Seen) -> tuple[int, dict]:  # type: ignore[type-arg]
        return 200, {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Final Answer: b done"},
                    "finish_reason": "stop",
                }
            ],
        }

    with http_stub(answer) as stub:
        llm = {"provider": "openai", "model": "m", "base_url": stub.url + "/v1"}
        definition = {
            "agents": [agent("a", "Alpha", "Never again"), {**agent("b", "Beta", "Continue {message}"), "llm": llm}]
        }
        request = executor.request(definition, message="on")
        await executor.insert(request)
        async with executor.app.state.sessionmaker.begin() as session:
            repo = ExecutionRepository(session)
            await repo.claim(request.run_id, 1, seqs=1)
            step = {"step_id": "a", "agent_id": "a", "agent_name": "Alpha", "position": 0, "attempt": 1}
            assert await repo.open_step(request.run_id, **step, seqs=1) == (False, 2)
            assert await repo.close_step(request.run_id, "a", "Alpha's stored answer", seqs=0) == 2
        await executor.publish(request)
        events = await executor.tap.until_terminal(request.run_id)
    assert [e.type for e in events] == ["run_resumed", "step_started", "step_output", "step_completed", "run_completed"]
    assert events[0].seq == 3  # continues the run's sequence
    assert {e.step_id for e in events if e.step_id} == {"b"}
    # Step b's prompt carried a's stored output; a itself never ran again.
    assert len(stub.seen) == 1 and "Alpha's stored answer" in stub.seen[0].body["messages"][-1]["content"]
    run = await executor.finished(request.run_id)
    assert run["status"] == "completed" and run["output"] == "b done"
    steps = {s["step_id"]: s for s in await executor.steps(request.run_id)}
    assert steps["a"]["output"] == "Alpha's stored answer"


async def test_finished_run_delivered_again_is_not_run(executor: Executor) -> None:
    request = await executor.submit({"agents": [agent("a", "Solo", "Once")]})
    await executor.tap.until_terminal(request.run_id)
    before = await executor.execution(request.run_id)
    await executor.publish(request)
    await asyncio.sleep(0.5)
    after = await executor.execution(request.run_id)
    assert after == before
    assert [e.type for e in executor.tap.events[request.run_id]].count("run_started") == 1


@pytest.mark.parametrize("kind", ["request", "queued"])
async def test_request_without_row_is_dropped(executor: Executor, kind: str) -> None:
    """A send whose transaction rolled back after the publish leaves a request without a row: it never runs.
    (`chat/send` publishes a RunQueuedV1; a RunRequestV1 is what a decision publishes.)"""
    request = executor.request({"agents": [agent("a", "Ghost", "Boo")]})
    await executor.publish(request if kind == "request" else executor.queued(request))
    await asyncio.sleep(1.0)
    async with executor.app.state.sessionmaker() as session:
        assert await session.get(Execution, request.run_id) is None
    assert executor.tap.events[request.run_id] == []


async def test_cancel_queued_run_never_starts(executor: Executor) -> None:
    request = executor.request({"agents": [agent("a", "Idle", "Wait")]})
    await executor.insert(request)  # queued, not yet published
    r = await executor.client.post(f"/executions/{request.run_id}/cancel", headers=executor.headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "cancelled"
    events = await executor.tap.until_terminal(request.run_id)
    assert [(e.type, e.seq) for e in events] == [("run_cancelled", 1)]
    await executor.publish(request)
    await asyncio.sleep(0.5)
    assert await executor.steps(request.run_id) == []
    assert (await executor.execution(request.run_id))["status"] == "cancelled"
    r = await executor.client.post(f"/executions/{request.run_id}/cancel", headers=executor.headers)
    assert r.status_code == 409 and r.json()["error"] == "run_finished"


async def test_cancel_running_run_stops_at_step_boundary(executor: Executor) -> None:
    """The step in flight when the cancel comes is not recorded as completed (its model call's answer is dropped),
    and nothing after it starts."""
    definition = {"agents": [agent(f"s{i}", f"Slow{i}", "Work", delay_ms=600) for i in range(3)]}
    request = await executor.submit(definition)
    await executor.tap.until(request.run_id, "step_started")
    r = await executor.client.post(f"/executions/{request.run_id}/cancel", headers=executor.headers)
    assert r.status_code == 202 and r.json()["cancel_requested"] is True
    events = await executor.tap.until_terminal(request.run_id)
    assert [e.type for e in events] == ["run_started", "step_started", "run_cancelled"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    run = await executor.finished(request.run_id)
    assert run["status"] == "cancelled"
    await asyncio.sleep(1.0)  # the dropped call has come back by now: still not completed
    assert [(s["step_id"], s["status"]) for s in await executor.steps(request.run_id)] == [("s0", "cancelled")]


async def test_api_only_shows_own_runs_with_filters_and_pages(executor: Executor) -> None:
    owner = Executor(executor.client, executor.tap, user_id=uuid.uuid4())
    workflow = uuid.uuid4()
    requests = []
    for _ in range(3):
        req = owner.request({"agents": [agent("a", "Lister", "List")]})
        req = req.model_copy(update={"workflow_id": workflow})
        await owner.insert(req)
        requests.append(req)
    other = headers_for(uuid.uuid4())
    assert (await executor.client.get(f"/executions/{requests[0].run_id}", headers=other)).status_code == 404
    assert (await executor.client.post(f"/executions/{requests[0].run_id}/cancel", headers=other)).status_code == 404
    assert (await executor.client.get(f"/executions/{requests[0].run_id}/steps", headers=other)).status_code == 404
    r = await executor.client.get("/executions", headers=other)
    assert r.json() == {"items": [], "next_cursor": None}

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"workflow_id": str(workflow), "limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = await executor.client.get("/executions", headers=owner.headers, params=params)
        assert r.status_code == 200, r.text
        seen += [item["run_id"] for item in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(q.run_id) for q in requests)
    r = await executor.client.get(
        "/executions", headers=owner.headers, params={"status": "completed", "workflow_id": str(workflow)}
    )
    assert r.json()["items"] == []
    r = await executor.client.get("/executions", headers=owner.headers, params={"status": "bogus"})
    assert r.status_code == 400 and set(r.json()) == {"error", "detail"}
    r = await executor.client.get("/executions", headers=owner.headers, params={"cursor": "garbage!"})
    assert r.status_code == 400
    r = await executor.client.get(f"/executions/{requests[0].run_id}/checkpoints", headers=owner.headers)
    assert r.json() == {"items": []}
    assert (await executor.client.get("/executions")).status_code == 401


async def test_request_that_cannot_be_processed_is_dead_lettered_with_the_reason(executor: Executor) -> None:
    """Every delivery fails (here: PostgreSQL refuses the step row) and goes back to the queue; after 3 the
    dead letter marks the run failed, keeping the last error. A trigger of this test makes the real failure."""
    doomed = f"doomed-{uuid.uuid4().hex[:8]}"
    ddl = [
        f"""CREATE FUNCTION executor.{doomed.replace("-", "_")}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.agent_id = '{doomed}' THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$""",
        f"""CREATE TRIGGER {doomed.replace("-", "_")} BEFORE INSERT ON executor.execution_steps
            FOR EACH ROW EXECUTE FUNCTION executor.{doomed.replace("-", "_")}()""",
    ]
    async with executor.app.state.engine.begin() as conn:
        for statement in ddl:
            await conn.execute(text(statement))
    try:
        request = await executor.submit({"agents": [agent(doomed, "Doomed", "Try")]})
        run = await executor.finished(request.run_id, timeout=60)
    finally:
        async with executor.app.state.engine.begin() as conn:
            await conn.execute(text(f"DROP TRIGGER {doomed.replace('-', '_')} ON executor.execution_steps"))
            await conn.execute(text(f"DROP FUNCTION executor.{doomed.replace('-', '_')}()"))
    assert run["status"] == "failed" and run["attempt"] == 3
    assert "3 delivery attempts" in run["error"] and "disk on fire" in run["error"]
    events = await executor.tap.until_terminal(request.run_id)
    assert [e.type for e in events].count("run_started") == 1 and events[-1].type == "run_failed"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_step_boundaries_take_seqs_only_for_events_that_go_out(executor: Executor) -> None:
    """open_step/close_step check the run, take the seqs and record the step in one statement each: a completed
    step takes nothing, and a run that must stop takes nothing and has its running step recorded cancelled."""
    request = executor.request({"agents": [agent("a", "Alpha", "One"), agent("b", "Beta", "Two")]}, message="x")
    await executor.insert(request)
    step = {"agent_id": "a", "agent_name": "Alpha", "position": 0, "attempt": 1}
    async with executor.app.state.sessionmaker.begin() as session:
        repo = ExecutionRepository(session)
        await repo.claim(request.run_id, 1, seqs=1)
        assert await repo.open_step(request.run_id, step_id="a", **step, seqs=1) == (False, 2)
        assert await repo.close_step(request.run_id, "a", "done", seqs=2) == 4
        assert await repo.open_step(request.run_id, step_id="a", **step, seqs=1) == (True, None)  # never again
        assert await repo.open_step(request.run_id, step_id="b", **step, seqs=1) == (False, 5)
        await session.execute(update(Execution).where(Execution.run_id == request.run_id).values(cancel_requested=True))
        assert await repo.close_step(request.run_id, "b", "discarded", seqs=2) is None
        assert await repo.open_step(request.run_id, step_id="c", **step, seqs=1) == (False, None)
    steps = {s["step_id"]: s for s in await executor.steps(request.run_id)}
    assert (steps["a"]["status"], steps["a"]["output"]) == ("completed", "done")
    assert (steps["b"]["status"], steps["b"]["output"]) == ("cancelled", None)
    assert "c" not in steps
    async with executor.app.state.sessionmaker() as session:
        assert (await ExecutionRepository(session).get(request.run_id)).last_seq == 5  # type: ignore[union-attr]
