"""Ownership and late-joiner answers from the executor, over a fake transport: typed models, or a clear no."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.gateway.clients import ExecutorRuns, ExecutorUnavailable
from shared.auth import CurrentUser
from shared.contracts import RunOut
from tests.unit.gateway.events import FakeClock

OWNER = CurrentUser(uuid.uuid4(), token="tok-owner")
OTHER = CurrentUser(uuid.uuid4(), token="tok-other")
RUN = uuid.uuid4()
STEP = {
    "step_id": "s1",
    "agent_id": "a",
    "agent_name": "A",
    "status": "completed",
    "output": "o",
    "error": None,
    "attempt": 1,
    "started_at": "2026-01-01T00:00:00Z",
    "completed_at": "2026-01-01T00:00:01Z",
}


def executor(handler, clock: FakeClock | None = None) -> ExecutorRuns:  # type: ignore[no-untyped-def]
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ExecutorRuns(http, "http://executor", clock=clock or FakeClock(), cache_ttl=10)


def runs_of_owner(request: httpx.Request) -> httpx.Response:
    if request.headers.get("authorization") != "Bearer tok-owner":
        return httpx.Response(404, json={"error": "not_found", "detail": "no"})
    if request.url.path == f"/executions/{RUN}":
        return httpx.Response(200, json={"run_id": str(RUN), "status": "completed", "output": "x"})
    if request.url.path == f"/executions/{RUN}/steps":
        return httpx.Response(200, json={"run_id": str(RUN), "status": "completed", "last_seq": 7, "steps": [STEP]})
    return httpx.Response(404, json={"error": "not_found", "detail": "No such endpoint"})


async def test_owner_allowed_and_cached_other_user_refused() -> None:
    clock = FakeClock()
    ex = executor(runs_of_owner, clock)
    assert not ex.allowed(RUN, OWNER.user_id)
    run = await ex.lookup(RUN, OWNER)
    assert isinstance(run, RunOut) and run.terminal and run.status == "completed" and run.run_id == RUN
    assert ex.allowed(RUN, OWNER.user_id)
    assert await ex.lookup(RUN, OTHER) is None
    assert not ex.allowed(RUN, OTHER.user_id)
    clock.now += 11
    assert not ex.allowed(RUN, OWNER.user_id)


@pytest.mark.parametrize("failure", ["down", "500", "unreadable"])
async def test_unreachable_failing_or_unreadable_executor_is_reported(failure: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if failure == "down":
            raise httpx.ConnectError("refused", request=request)
        if failure == "unreadable":
            return httpx.Response(200, json={"run_id": "not-a-uuid", "status": "somewhere"})
        return httpx.Response(500)

    with pytest.raises(ExecutorUnavailable):
        await executor(handler).lookup(RUN, OWNER)


async def test_steps_are_typed_and_only_for_the_owner() -> None:
    ex = executor(runs_of_owner)
    steps = await ex.steps(RUN, OWNER)
    assert steps is not None and steps.last_seq == 7 and steps.status == "completed"
    assert [(s.step_id, s.output, s.completed_at.isoformat()) for s in steps.steps if s.completed_at] == [
        ("s1", "o", "2026-01-01T00:00:01+00:00")
    ]
    assert await ex.steps(RUN, OTHER) is None


def test_cache_is_bounded() -> None:
    ex = executor(runs_of_owner)
    ex.cache_size = 3
    runs = [uuid.uuid4() for _ in range(5)]
    for run in runs:
        ex.remember(run, OWNER.user_id)
    assert [ex.allowed(r, OWNER.user_id) for r in runs] == [False, False, True, True, True]
