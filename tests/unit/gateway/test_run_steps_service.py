"""The late joiner's steps: this replica's memory first, then the executor's record, then the run's status."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from services.gateway.clients import ExecutorRuns
from services.gateway.fanout.state import RunRegistry
from services.gateway.service import RunStepsService
from shared.auth import CurrentUser
from shared.errors import BadGateway, NotFound
from tests.support.stand_in import Handler, down, serving
from tests.unit.gateway.events import FakeClock, event
from tests.unit.gateway.test_clients import OTHER, OWNER, RUN, runs_of_owner


@contextlib.asynccontextmanager
async def service(handler: Handler, registry: RunRegistry | None = None) -> AsyncIterator[RunStepsService]:
    async with serving(handler) as (http, url):
        ex = ExecutorRuns(http, url, clock=FakeClock())
        yield RunStepsService(registry or RunRegistry(ttl=60, clock=FakeClock()), ex)


async def test_from_memory_while_the_gateway_holds_the_events() -> None:
    registry = RunRegistry(ttl=60, clock=FakeClock())
    registry.apply(event(RUN, OWNER.user_id, 1, "run_started"))
    registry.apply(event(RUN, OWNER.user_id, 2, "step_completed", output="done"))

    asked: list[str] = []

    def never(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(status=500)

    async with service(never, registry) as svc:
        got = await svc.steps(RUN, OWNER)
        assert got.last_seq == 2 and got.status == "running"
        assert [(s.step_id, s.status, s.output) for s in got.steps] == [("s1", "completed", "done")]
        with pytest.raises(NotFound):
            await svc.steps(RUN, OTHER)
    assert asked == []  # the executor was never asked


async def test_from_the_executor_record_with_iso_timestamps() -> None:
    async with service(runs_of_owner) as svc:
        got = await svc.steps(RUN, OWNER)
        assert got.run_id == str(RUN) and got.last_seq == 7
        assert got.steps[0].completed_at == "2026-01-01T00:00:01Z"
        with pytest.raises(NotFound):
            await svc.steps(RUN, OTHER)


async def test_the_run_status_when_the_executor_has_no_steps() -> None:
    def no_steps_route(request: web.Request) -> web.Response:
        if request.path.endswith("/steps"):
            return web.json_response({"error": "not_found", "detail": "No such endpoint"}, status=404)
        return runs_of_owner(request)

    async with service(no_steps_route) as svc:
        got = await svc.steps(RUN, OWNER)
    assert got.model_dump() == {"run_id": str(RUN), "status": "completed", "last_seq": 0, "steps": []}


async def test_an_unreachable_executor_is_a_502_with_a_sentence() -> None:
    async with aiohttp.ClientSession() as http:
        svc = RunStepsService(RunRegistry(ttl=60, clock=FakeClock()), ExecutorRuns(http, down(), clock=FakeClock()))
        with pytest.raises(BadGateway) as caught:
            await svc.steps(RUN, CurrentUser(uuid.uuid4(), token="t"))
    assert caught.value.error == "upstream_unavailable"
