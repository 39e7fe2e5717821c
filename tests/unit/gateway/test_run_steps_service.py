"""The late joiner's steps: this replica's memory first, then the executor's record, then the run's status."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.gateway.clients import ExecutorRuns
from services.gateway.fanout.state import RunRegistry
from services.gateway.service import RunStepsService
from shared.auth import CurrentUser
from shared.errors import BadGateway, NotFound
from tests.unit.gateway.events import FakeClock, event
from tests.unit.gateway.test_clients import OTHER, OWNER, RUN, runs_of_owner


def service(handler, registry: RunRegistry | None = None) -> RunStepsService:  # type: ignore[no-untyped-def]
    ex = ExecutorRuns(httpx.AsyncClient(transport=httpx.MockTransport(handler)), "http://executor", clock=FakeClock())
    return RunStepsService(registry or RunRegistry(ttl=60, clock=FakeClock()), ex)


async def test_from_memory_while_the_gateway_holds_the_events() -> None:
    registry = RunRegistry(ttl=60, clock=FakeClock())
    registry.apply(event(RUN, OWNER.user_id, 1, "run_started"))
    registry.apply(event(RUN, OWNER.user_id, 2, "step_completed", output="done"))

    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the executor must not be asked")

    svc = service(never, registry)
    got = await svc.steps(RUN, OWNER)
    assert got.last_seq == 2 and got.status == "running"
    assert [(s.step_id, s.status, s.output) for s in got.steps] == [("s1", "completed", "done")]
    with pytest.raises(NotFound):
        await svc.steps(RUN, OTHER)


async def test_from_the_executor_record_with_iso_timestamps() -> None:
    got = await service(runs_of_owner).steps(RUN, OWNER)
    assert got.run_id == str(RUN) and got.last_seq == 7
    assert got.steps[0].completed_at == "2026-01-01T00:00:01Z"
    with pytest.raises(NotFound):
        await service(runs_of_owner).steps(RUN, OTHER)


async def test_the_run_status_when_the_executor_has_no_steps() -> None:
    def no_steps_route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/steps"):
            return httpx.Response(404, json={"error": "not_found", "detail": "No such endpoint"})
        return runs_of_owner(request)

    got = await service(no_steps_route).steps(RUN, OWNER)
    assert got.model_dump() == {"run_id": str(RUN), "status": "completed", "last_seq": 0, "steps": []}


async def test_an_unreachable_executor_is_a_502_with_a_sentence() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(BadGateway) as caught:
        await service(down).steps(RUN, CurrentUser(uuid.uuid4(), token="t"))
    assert caught.value.error == "upstream_unavailable"
