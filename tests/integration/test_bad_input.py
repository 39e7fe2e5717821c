"""Every bad input of the table, sent straight to the service that owns the path (each app in process, real
PostgreSQL and RabbitMQ): a 4xx in the `{error, detail}` shape naming the field, nothing stored, and the same
service still serves good requests afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.executor.app import create_app as create_executor
from services.gateway.app import create_app as create_gateway
from services.session.app import create_app as create_session
from services.workflow.app import create_app as create_workflow
from tests.support.apps import running_app
from tests.support.auth import headers_for
from tests.support.bad_input import CASES, BadInput, Objects, Service, check

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def apps(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[Service, httpx.AsyncClient]]:
    fs_root: Path = tmp_path_factory.mktemp("workflows")
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[Service, httpx.AsyncClient] = {
            "workflow": await stack.enter_async_context(running_app(lambda: create_workflow(fs_root=fs_root))),
            "session": await stack.enter_async_context(running_app(create_session)),
            "executor": await stack.enter_async_context(running_app(create_executor)),
            "gateway": await stack.enter_async_context(running_app(create_gateway)),
        }
        yield clients


@pytest.fixture(scope="module")
def headers() -> dict[str, str]:
    return headers_for(uuid.uuid4())


async def _counts(apps: dict[Service, httpx.AsyncClient], headers: dict[str, str], objects: Objects) -> list[int]:
    counts = []
    for service, path in [
        ("workflow", "/workflows"),
        ("workflow", "/agents"),
        ("workflow", "/tools"),
        ("session", "/sessions"),
        ("executor", "/executions"),
    ]:
        r = await apps[service].get(path, headers=headers)  # type: ignore[index]
        assert r.status_code == 200, r.text
        counts.append(len(r.json()["items"]))
    r = await apps["session"].get(f"/sessions/{objects.session_id}", headers=headers)
    counts.append(len(r.json()["messages"]))
    return counts


@pytest.fixture(scope="module")
async def objects(apps: dict[Service, httpx.AsyncClient], headers: dict[str, str]) -> Objects:
    workflow, session = apps["workflow"], apps["session"]
    r = await workflow.post("/workflows", json={"save_as": "final", "definition": {"name": "ok"}}, headers=headers)
    assert r.status_code == 201, r.text
    workflow_id = r.json()["workflow_id"]
    r = await workflow.post("/agents", json={"name": "agent"}, headers=headers)
    assert r.status_code == 201, r.text
    agent_id = r.json()["agent_id"]
    r = await workflow.post("/tools", json={"name": "tool", "tool_type": "custom"}, headers=headers)
    assert r.status_code == 201, r.text
    tool_id = r.json()["tool_id"]
    r = await session.post("/sessions", json={}, headers=headers)
    assert r.status_code == 201, r.text
    return Objects(workflow_id, agent_id, tool_id, r.json()["session_id"])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_bad_input_is_a_4xx_naming_the_field(
    apps: dict[Service, httpx.AsyncClient], headers: dict[str, str], objects: Objects, case: BadInput
) -> None:
    before = await _counts(apps, headers, objects)
    r = await apps[case.service].request(
        case.method,
        case.url(objects),
        content=case.content(),
        headers={**headers, "content-type": "application/json"},
    )
    check(case, r.status_code, r.json())
    assert await _counts(apps, headers, objects) == before, "a refused request changed stored data"


async def test_good_requests_still_pass(
    apps: dict[Service, httpx.AsyncClient], headers: dict[str, str], objects: Objects
) -> None:
    """What the edge must not refuse: escaped backslashes, astral characters, big finite numbers, 64 levels."""
    deep: object = [1]
    for _ in range(60):
        deep = {"k": deep}
    variables = {"text": "\\u0000 is six characters here, 🚀 is one", "n": 1.5, "big": 10**308, "deep": deep}
    path = f"/sessions/{objects.session_id}/variables"
    r = await apps["session"].patch(path, json=variables, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["variables"] == variables
    # What PostgreSQL hands back can be sent again: it renders 1e308 as a 309-digit integer.
    r = await apps["session"].patch(path, json={"huge": 1e308}, headers=headers)
    assert r.status_code == 200, r.text
    r = await apps["session"].patch(path, json=r.json()["variables"], headers=headers)
    assert r.status_code == 200, r.text
    r = await apps["workflow"].get("/tools", params={"tag": "ünï"}, headers=headers)
    assert r.status_code == 200, r.text
