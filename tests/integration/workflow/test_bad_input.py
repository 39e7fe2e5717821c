"""Bad input: every case is a 4xx in the documented error shape (docs/api.md#conventions), never a 500, and
nothing is stored."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.integration.workflow.conftest import Caller, agent, definition

pytestmark = pytest.mark.integration

TWO_MIB = 2 * 1024 * 1024
SAVE_AS = ("draft", "temp", "final")


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
        ("/tools", {"name": "t", "tool_type": "api", "definition": {"url": "http://[::1"}}, "definition.url:"),
        ("/agents", {"name": "a", "llm": {"provider": "echo", "delay_ms": 3_600_001}}, "llm.delay_ms:"),
        ("/agents", {"name": "a", "llm": {"provider": "echo", "delay_ms": -1}}, "llm.delay_ms:"),
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


@pytest.mark.parametrize("number", [2**31, 2**31 + 1, 10**30])
async def test_version_numbers_past_the_columns_range_are_422_naming_the_parameter(alice: Caller, number: int) -> None:
    wid = (await alice.save(definition("Range"), "final"))["workflow_id"]
    for method, path in (
        ("GET", f"/workflows/{wid}/versions/{number}"),
        ("POST", f"/workflows/{wid}/versions/{number}/restore"),
    ):
        r = await alice.request(method, path)
        assert r.status_code == 422, (method, path, r.text)
        assert r.json()["error"] == "validation_error" and r.json()["detail"].startswith("version:")
        assert "2147483647" in r.json()["detail"]
    # The largest number the column holds is a version like any other: this one was never saved.
    for method, path in (
        ("GET", f"/workflows/{wid}/versions/{2**31 - 1}"),
        ("POST", f"/workflows/{wid}/versions/{2**31 - 1}/restore"),
    ):
        r = await alice.request(method, path)
        assert (r.status_code, r.json()["error"]) == (404, "version_not_found")
    assert (await alice.get(f"/workflows/{wid}")).json()["version"] == 1


def _nested(levels: int) -> dict[str, Any]:
    """An object `levels` deep: {"k": {"k": ... {"leaf": 1}}}."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


def _json(body: Any) -> dict[str, Any]:
    # Sent as text: httpx's own encoder refuses objects this deep before they leave the client.
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


@pytest.mark.parametrize("levels", [65, 260, 900])
async def test_values_nested_too_deep_are_422_and_nothing_is_stored(
    alice: Caller, pg: asyncpg.Connection, levels: int
) -> None:
    scratch = await _temp_workflow(alice)
    agent_id = (await alice.post("/agents", json={"name": "Flat"})).json()["agent_id"]
    tool_id = (await alice.post("/tools", json={"name": "Flat", "tool_type": "custom"})).json()["tool_id"]
    deep = _nested(levels - 1)  # one level below the definition, agent or tool definition it sits in
    cases = [
        *[("POST", "/workflows", {"definition": {**definition(), "deep": deep}, "save_as": s}) for s in SAVE_AS],
        ("PUT", f"/workflows/{scratch}", {"definition": {**definition(), "deep": deep}, "save_as": "final"}),
        (
            "POST",
            "/workflows",
            {"definition": definition(agents=[agent("a", deep=_nested(levels - 2))]), "save_as": "draft"},
        ),
        ("POST", "/agents", {"name": "Deep", "deep": deep}),
        ("PUT", f"/agents/{agent_id}", {"name": "Deep", "deep": deep}),
        ("POST", "/tools", {"name": "Deep", "tool_type": "custom", "definition": {"deep": deep}}),
        ("PUT", f"/tools/{tool_id}", {"name": "Deep", "tool_type": "custom", "definition": {"deep": deep}}),
    ]
    for method, path, body in cases:
        r = await alice.request(method, path, **_json(body))
        # Refused here or, where the shared request validation bounds depth first, there: a 422 either way
        # (the service's own sentence is checked in tests/unit/workflow/test_nesting.py).
        assert r.status_code == 422, (method, path, r.text[:200])
        assert set(r.json()) == {"error", "detail"}
    assert await pg.fetchval("SELECT count(*) FROM workflow.workflows WHERE user_id = $1", alice.user_id) == 0
    assert (await alice.get(f"/agents/{agent_id}")).json()["definition"] == {"name": "Flat", "agent_id": agent_id}
    assert (await alice.get(f"/tools/{tool_id}")).json()["definition"] == {}


async def test_values_nested_deep_but_within_the_bound_are_stored_and_read_back(alice: Caller) -> None:
    # 48 levels: well inside the bound of 64, however the levels of the whole body are counted.
    deep = _nested(47)
    saved = (
        await alice.request(
            "POST", "/workflows", **_json({"definition": {**definition(), "deep": deep}, "save_as": "final"})
        )
    ).json()
    assert (await alice.get(f"/workflows/{saved['workflow_id']}")).json()["definition"]["deep"] == deep
    assert (await alice.get(f"/workflows/{saved['workflow_id']}/versions/1")).json()["definition"]["deep"] == deep
    r = await alice.request("POST", "/agents", **_json({"name": "Deep", "deep": deep}))
    assert r.status_code == 201 and r.json()["definition"]["deep"] == deep
    r = await alice.request("POST", "/tools", **_json({"name": "Deep", "tool_type": "custom", "definition": deep}))
    assert r.status_code == 201 and r.json()["definition"] == deep


@pytest.mark.parametrize(
    ("path", "params", "allowed"),
    [
        ("/workflows", {"status": "temp"}, ["'draft'", "'final'"]),
        ("/workflows", {"status": "DRAFT"}, ["'draft'", "'final'"]),
        ("/tools", {"type": "quantum"}, ["'builtin'", "'api'", "'custom'"]),
    ],
)
async def test_filter_values_are_422_naming_the_allowed_values(
    alice: Caller, path: str, params: dict[str, str], allowed: list[str]
) -> None:
    r = await alice.get(path, params=params)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith(f"{next(iter(params))}:") and all(value in detail for value in allowed), detail


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tag": [f"t{i}" for i in range(33)]}, "tag:"),
        ({"tag": ["x" * 65]}, "tag.0:"),
        ({"tag": ["ok", ""]}, "tag.1:"),
    ],
)
async def test_tag_filters_are_bounded_like_the_tags_they_match(
    alice: Caller, params: dict[str, list[str]], field: str
) -> None:
    r = await alice.get("/tools", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(field), r.json()["detail"]
    r = await alice.get("/tools", params={"tag": [f"t{i}" for i in range(32)]})
    assert r.status_code == 200 and r.json()["items"] == []


async def test_a_definition_holds_at_most_500_agents(alice: Caller, pg: asyncpg.Connection) -> None:
    crowd = {"definition": definition("Crowd", [{"name": f"a{i}"} for i in range(501)]), "save_as": "draft"}
    # 7,000 agents once overflowed the statement's parameters: refused as 422 long before that.
    for size in (501, 7000):
        crowd["definition"]["agents"] = [{"name": f"a{i}"} for i in range(size)]
        r = await alice.post("/workflows", json=crowd)
        assert r.status_code == 422 and r.json()["detail"].startswith("definition.agents:"), r.text[:200]
    crowd["definition"]["agents"] = [{"name": f"a{i}"} for i in range(500)]
    saved = await alice.save(crowd["definition"], "final")
    assert len(saved["definition"]["agents"]) == 500
    count = await pg.fetchval(
        "SELECT count(*) FROM workflow.agents WHERE source_workflow_id = $1", uuid.UUID(saved["workflow_id"])
    )
    assert count == 500
