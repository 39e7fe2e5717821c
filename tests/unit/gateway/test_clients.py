"""Ownership and late-joiner answers from the executor, asked of a stand-in server: typed models, or a clear no."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from services.gateway.clients import ExecutorRuns, ExecutorUnavailable, ServiceProbe
from shared.auth import CurrentUser
from shared.contracts import RunOut
from shared.settings import Settings
from tests.support.stand_in import Handler, down, serving
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


@contextlib.asynccontextmanager
async def executor(handler: Handler, clock: FakeClock | None = None) -> AsyncIterator[ExecutorRuns]:
    async with serving(handler) as (http, url):
        yield ExecutorRuns(http, url, clock=clock or FakeClock(), cache_ttl=10)


def runs_of_owner(request: web.Request) -> web.Response:
    if request.headers.get("authorization") != "Bearer tok-owner":
        return web.json_response({"error": "not_found", "detail": "no"}, status=404)
    if request.path == f"/executions/{RUN}":
        return web.json_response({"run_id": str(RUN), "status": "completed", "output": "x"})
    if request.path == f"/executions/{RUN}/steps":
        return web.json_response({"run_id": str(RUN), "status": "completed", "last_seq": 7, "steps": [STEP]})
    return web.json_response({"error": "not_found", "detail": "No such endpoint"}, status=404)


async def test_owner_allowed_and_cached_other_user_refused() -> None:
    clock = FakeClock()
    async with executor(runs_of_owner, clock) as ex:
        assert not ex.allowed(RUN, OWNER.user_id)
        run = await ex.lookup(RUN, OWNER)
        assert isinstance(run, RunOut) and run.terminal and run.status == "completed" and run.run_id == RUN
        assert ex.allowed(RUN, OWNER.user_id)
        assert await ex.lookup(RUN, OTHER) is None
        assert not ex.allowed(RUN, OTHER.user_id)
    clock.now += 11
    assert not ex.allowed(RUN, OWNER.user_id)


async def test_an_unreachable_executor_is_reported() -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(ExecutorUnavailable):
            await ExecutorRuns(http, down(), clock=FakeClock()).lookup(RUN, OWNER)


@pytest.mark.parametrize("failure", ["500", "unreadable"])
async def test_a_failing_or_unreadable_executor_is_reported(failure: str) -> None:
    def handler(request: web.Request) -> web.Response:
        if failure == "unreadable":
            return web.json_response({"run_id": "not-a-uuid", "status": "somewhere"})
        return web.Response(status=500)

    async with executor(handler) as ex:
        with pytest.raises(ExecutorUnavailable):
            await ex.lookup(RUN, OWNER)


async def test_steps_are_typed_and_only_for_the_owner() -> None:
    async with executor(runs_of_owner) as ex:
        steps = await ex.steps(RUN, OWNER)
        assert steps is not None and steps.last_seq == 7 and steps.status == "completed"
        assert [(s.step_id, s.output, s.completed_at.isoformat()) for s in steps.steps if s.completed_at] == [
            ("s1", "o", "2026-01-01T00:00:01+00:00")
        ]
        assert await ex.steps(RUN, OTHER) is None


def test_cache_is_bounded() -> None:
    ex = ExecutorRuns(None, "http://executor", clock=FakeClock())  # type: ignore[arg-type]  # never asked here
    ex.cache_size = 3
    runs = [uuid.uuid4() for _ in range(5)]
    for run in runs:
        ex.remember(run, OWNER.user_id)
    assert [ex.allowed(r, OWNER.user_id) for r in runs] == [False, False, True, True, True]


async def test_a_probe_says_why_a_service_is_down() -> None:
    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response()

    async with serving(slow) as (http, url):
        probe = ServiceProbe(http, Settings(executor_url=url, session_url=down()), timeout=0.2)
        late, refused = await probe.probe("executor"), await probe.probe("session")
    assert (late.status, late.detail) == ("down", "unreachable (no answer in 0.2 s)")
    assert (refused.status, refused.detail) == ("down", "unreachable (cannot connect)")
