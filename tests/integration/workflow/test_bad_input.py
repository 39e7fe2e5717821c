"""Bad input: every case is a 4xx in the contract's error shape, never a 500, and nothing is stored."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.integration.workflow.conftest import Caller, agent, definition

pytestmark = pytest.mark.integration

TWO_MIB = 2 * 1024 * 1024


def _big_definition(size: int) -> dict[str, Any]:
    return definition("Huge", notes="x" * size)


SAVE_CASES: list[tuple[str, Any, int, str]] = [
    ("definition is a string", {"definition": "flow", "save_as": "draft"}, 422, "definition:"),
    ("missing definition", {"save_as": "draft"}, 422, "definition:"),
    ("missing name", {"definition": {"agents": []}, "save_as": "draft"}, 422, "definition.name:"),
    ("blank name", {"definition": definition(" "), "save_as": "draft"}, 422, "definition.name:"),
    ("name is a number", {"definition": {**definition(), "name": 7}, "save_as": "draft"}, 422, "definition.name:"),
    (
        "agents not a list",
        {"definition": {**definition(), "agents": "not-a-list"}, "save_as": "final"},
        422,
        "definition.agents:",
    ),
    (
        "agent without name",
        {"definition": definition(agents=[{"role": "r"}]), "save_as": "draft"},
        422,
        "definition.agents.0.name:",
    ),
    (
        "agent id is a number",
        {"definition": definition(agents=[{"name": "a", "agent_id": 5}]), "save_as": "draft"},
        422,
        "definition.agents.0.agent_id:",
    ),
    (
        "tools not a list",
        {"definition": definition(agents=[agent("a", tools="calc")]), "save_as": "draft"},
        422,
        "definition.agents.0.tools:",
    ),
    (
        "task without description",
        {"definition": definition(agents=[agent("a", task={})]), "save_as": "draft"},
        422,
        "definition.agents.0.task.description:",
    ),
    (
        "unknown execution model",
        {"definition": {**definition(), "execution_model": "random"}, "save_as": "draft"},
        422,
        "definition.execution_model:",
    ),
    (
        "connection without to",
        {"definition": {**definition(), "connections": [{"from": "a"}]}, "save_as": "draft"},
        422,
        "definition.connections.0.to:",
    ),
    (
        "unknown hitl mode",
        {"definition": definition(agents=[agent("a", hitl={"mode": "maybe"})]), "save_as": "draft"},
        422,
        "definition.agents.0.hitl.mode:",
    ),
    ("unknown save_as", {"definition": definition(), "save_as": "forever"}, 422, "save_as:"),
    ("missing save_as", {"definition": definition()}, 422, "save_as:"),
    ("unknown top-level key", {"definition": definition(), "save_as": "draft", "extra": 1}, 422, "extra:"),
    ("body is a list", [definition()], 422, ""),
]


@pytest.mark.parametrize(("case", "body", "status", "field"), SAVE_CASES, ids=[c[0] for c in SAVE_CASES])
async def test_bad_saves(alice: Caller, pg: asyncpg.Connection, case: str, body: Any, status: int, field: str) -> None:
    for method, path in (("POST", "/workflows"), ("PUT", f"/workflows/{await _temp_workflow(alice)}")):
        r = await alice.request(method, path, json=body)
        assert r.status_code == status, (case, method, r.text)
        assert set(r.json()) == {"error", "detail"}
        assert r.json()["error"] == "validation_error"
        assert r.json()["detail"].startswith(field), r.json()["detail"]
    assert await pg.fetchval("SELECT count(*) FROM workflow.workflows WHERE user_id = $1", alice.user_id) == 0


async def _temp_workflow(user: Caller) -> str:
    return (await user.save(definition("Scratch"), "temp"))["workflow_id"]


async def test_malformed_json_and_wrong_content(alice: Caller) -> None:
    r = await alice.post("/workflows", content=b'{"definition": ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
    r = await alice.post("/workflows")
    assert r.status_code == 422 and r.json()["error"] == "validation_error"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/workflows"),
        ("PUT", f"/workflows/{uuid.uuid4()}"),
        ("POST", "/agents"),
        ("PUT", f"/agents/{uuid.uuid4()}"),
        ("POST", "/tools"),
        ("PUT", f"/tools/{uuid.uuid4()}"),
    ],
)
async def test_two_mib_body_is_413_before_anything_parses_it(alice: Caller, method: str, path: str) -> None:
    body = {"definition": _big_definition(TWO_MIB), "save_as": "draft", "name": "x", "tool_type": "custom"}
    r = await alice.request(method, path, json=body)
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "payload_too_large" and set(r.json()) == {"error", "detail"}
    # Not JSON at all, still a 413 (the size is checked first), with or without a Content-Length.
    r = await alice.request(method, path, content=b"x" * (TWO_MIB + 1), headers={"content-type": "application/json"})
    assert r.status_code == 413

    async def chunks() -> Any:
        for _ in range(33):  # one chunk past the 2 MiB cap
            yield b"y" * (64 * 1024)

    r = await alice.request(method, path, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


async def test_a_definition_just_under_the_cap_is_accepted(alice: Caller) -> None:
    r = await alice.post("/workflows", json={"definition": _big_definition(1024 * 1024 - 1024), "save_as": "draft"})
    assert r.status_code == 201, r.text[:200]


@pytest.mark.parametrize(
    "path",
    [
        "/workflows/not-a-uuid",
        "/workflows/not-a-uuid/temp",
        "/workflows/not-a-uuid/versions",
        "/workflows/123/versions/1",
        "/agents/agt_nope",
        "/tools/tool_calc",
    ],
)
async def test_invalid_uuid_in_the_path_is_422_naming_it(alice: Caller, path: str) -> None:
    r = await alice.get(path)
    assert r.status_code == 422
    assert r.json()["error"] == "validation_error" and "_id:" in r.json()["detail"]


async def test_bad_version_numbers_and_query_values(alice: Caller) -> None:
    wid = (await alice.save(definition("Numbers"), "final"))["workflow_id"]
    for path in (f"/workflows/{wid}/versions/0", f"/workflows/{wid}/versions/one"):
        r = await alice.get(path)
        assert r.status_code == 422 and r.json()["detail"].startswith("version:")
    for path, params, field in [
        ("/workflows", {"status": "temp"}, "status:"),
        ("/workflows", {"limit": 0}, "limit:"),
        ("/workflows", {"limit": 201}, "limit:"),
        ("/tools", {"type": "quantum"}, "type:"),
        ("/agents", {"source_workflow_id": "wf_x"}, "source_workflow_id:"),
    ]:
        r = await alice.get(path, params=params)
        assert r.status_code == 422, (path, params)
        assert r.json()["detail"].startswith(field)
    for path in ("/workflows", "/agents", "/tools", f"/workflows/{wid}/versions"):
        r = await alice.get(path, params={"cursor": "garbage!"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_cursor", path


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/agents", {"role": "no name"}, "name:"),
        ("/agents", {"name": ["list"]}, "name:"),
        ("/agents", {"name": "a", "tools": "calc"}, "tools:"),
        ("/tools", {"name": "t"}, "tool_type:"),
        ("/tools", {"name": "t", "tool_type": "quantum"}, "tool_type:"),
        ("/tools", {"name": "t", "tool_type": "custom", "tags": "one"}, "tags:"),
        ("/tools", {"name": "t", "tool_type": "custom", "tags": [""]}, "tags.0:"),
        ("/tools", {"name": "t", "tool_type": "custom", "definition": []}, "definition:"),
    ],
)
async def test_bad_agents_and_tools(alice: Caller, path: str, body: Any, field: str) -> None:
    r = await alice.post(path, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(field), r.json()["detail"]


async def test_no_token_is_401_everywhere(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/workflows"),
        ("GET", "/workflows/schema"),
        ("POST", "/workflows"),
        ("GET", f"/workflows/{uuid.uuid4()}"),
        ("GET", "/agents"),
        ("POST", "/tools"),
        ("GET", "/tools"),
    ]:
        r = await client.request(
            method, path, json={"definition": definition(), "save_as": "draft"} if method == "POST" else None
        )
        assert r.status_code == 401, (method, path)
        assert set(r.json()) == {"error", "detail"}
