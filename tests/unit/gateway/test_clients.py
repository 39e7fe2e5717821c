"""Ownership and late-joiner answers from the executor, over a fake transport."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.gateway.clients import ExecutorRuns, ExecutorUnavailable
from shared.auth import CurrentUser
from tests.unit.gateway.events import FakeClock

OWNER = CurrentUser(uuid.uuid4(), token="tok-owner")
OTHER = CurrentUser(uuid.uuid4(), token="tok-other")
RUN = uuid.uuid4()


def executor(handler, clock: FakeClock | None = None) -> ExecutorRuns:  # type: ignore[no-untyped-def]
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ExecutorRuns(http, "http://executor", clock=clock or FakeClock(), cache_ttl=10)


def runs_of_owner(request: httpx.Request) -> httpx.Response:
    if request.headers.get("authorization") != "Bearer tok-owner":
        return httpx.Response(404, json={"error": "not_found", "detail": "no"})
    if request.url.path == f"/executions/{RUN}":
        return httpx.Response(200, json={"run_id": str(RUN), "status": "completed", "output": "x"})
    return httpx.Response(404, json={"error": "not_found", "detail": "No such endpoint"})


async def test_owner_allowed_and_cached_other_user_refused() -> None:
    clock = FakeClock()
    ex = executor(runs_of_owner, clock)
    assert not ex.allowed(RUN, OWNER.user_id)
    info = await ex.lookup(RUN, OWNER)
    assert info is not None and info.terminal and info.status == "completed"
    assert ex.allowed(RUN, OWNER.user_id)
    assert await ex.lookup(RUN, OTHER) is None
    assert not ex.allowed(RUN, OTHER.user_id)
    clock.now += 11
    assert not ex.allowed(RUN, OWNER.user_id)


@pytest.mark.parametrize("failure", ["down", "500"])
async def test_unreachable_or_failing_executor_is_reported(failure: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if failure == "down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(500)

    with pytest.raises(ExecutorUnavailable):
        await executor(handler).lookup(RUN, OWNER)


async def test_steps_fall_back_to_the_run_when_the_executor_has_no_steps_route() -> None:
    ex = executor(runs_of_owner)
    assert await ex.steps(RUN, OWNER) == {"run_id": str(RUN), "status": "completed", "last_seq": 0, "steps": []}
    assert await ex.steps(RUN, OTHER) is None


async def test_steps_from_the_executor_when_it_has_them() -> None:
    step = {
        "step_id": "s1",
        "agent_id": "a",
        "agent_name": "A",
        "status": "completed",
        "output": "o",
        "error": None,
        "started_at": "2026-01-01T00:00:00Z",
        "completed_at": "2026-01-01T00:00:01Z",
        "extra": 1,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"run_id": str(RUN), "status": "completed", "last_seq": 7, "steps": [step]})

    body = await executor(handler).steps(RUN, OWNER)
    assert body is not None and body["last_seq"] == 7
    assert body["steps"] == [{k: v for k, v in step.items() if k != "extra"}]


def test_cache_is_bounded() -> None:
    ex = executor(runs_of_owner)
    ex.cache_size = 3
    runs = [uuid.uuid4() for _ in range(5)]
    for run in runs:
        ex.remember(run, OWNER.user_id)
    assert [ex.allowed(r, OWNER.user_id) for r in runs] == [False, False, True, True, True]
