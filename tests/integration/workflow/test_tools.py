"""Tools: the seeded builtin tools, CRUD, validation, and search by tag and type."""

from __future__ import annotations

import uuid

import pytest

from services.workflow.builtin_tools import BUILTIN_TOOLS, CALCULATOR_TOOL_ID, CURRENT_TIME_TOOL_ID
from tests.integration.workflow.conftest import Caller

pytestmark = pytest.mark.integration


async def test_builtin_tools_are_seeded_as_declared_and_visible_to_everyone(alice: Caller, bob: Caller) -> None:
    for user in (alice, bob):
        for tool_id, declared in BUILTIN_TOOLS.items():
            r = await user.get(f"/tools/{tool_id}")
            assert r.status_code == 200, r.text
            tool = r.json()
            assert {k: tool[k] for k in declared} == declared
            assert tool["builtin"] is True and tool["tool_id"] == str(tool_id)
        listed = {t["tool_id"] for t in (await user.get("/tools", params={"type": "builtin"})).json()["items"]}
        assert {str(CALCULATOR_TOOL_ID), str(CURRENT_TIME_TOOL_ID)} <= listed


async def test_builtin_tools_are_read_only(alice: Caller) -> None:
    body = {"name": "mine now", "tool_type": "custom"}
    for r in (
        await alice.put(f"/tools/{CALCULATOR_TOOL_ID}", json=body),
        await alice.delete(f"/tools/{CALCULATOR_TOOL_ID}"),
    ):
        assert r.status_code == 409
        assert r.json()["error"] == "read_only_tool" and "builtin" in r.json()["detail"]
    assert (await alice.get(f"/tools/{CALCULATOR_TOOL_ID}")).json()["name"] == "calculator"
    taken = await alice.post("/tools", json={"tool_id": str(CALCULATOR_TOOL_ID), "name": "x", "tool_type": "custom"})
    assert taken.status_code == 409


async def test_tool_crud(alice: Caller) -> None:
    body = {
        "name": "Web search",
        "tool_type": "api",
        "tags": ["search", "web", "search"],
        "definition": {"url": "https://search.example/api?q={query}", "method": "GET"},
    }
    r = await alice.post("/tools", json=body)
    assert r.status_code == 201, r.text
    tool = r.json()
    assert tool["tags"] == ["search", "web"] and tool["builtin"] is False
    assert set(tool) == {"tool_id", "name", "tool_type", "tags", "definition", "builtin", "created_at", "updated_at"}

    # A fetched tool can be sent back as it is: read-only fields are ignored.
    changed = {**tool, "name": "Web search v2", "tags": ["web"]}
    r = await alice.put(f"/tools/{tool['tool_id']}", json=changed)
    assert r.status_code == 200, r.text
    assert (
        r.json()["name"] == "Web search v2" and r.json()["tags"] == ["web"] and r.json()["tool_id"] == tool["tool_id"]
    )

    # A fresh hex id: UUID-shaped ids are global, and other tests of this run migrate the legacy sample's.
    hex_id = uuid.uuid4().hex
    legacy = await alice.post("/tools", json={"tool_id": f"tool_{hex_id}", "name": "L", "tool_type": "custom"})
    assert legacy.json()["tool_id"] == str(uuid.UUID(hex_id))

    assert (await alice.delete(f"/tools/{tool['tool_id']}")).status_code == 204
    assert (await alice.get(f"/tools/{tool['tool_id']}")).status_code == 404
    assert (await alice.delete(f"/tools/{tool['tool_id']}")).status_code == 404
    assert (await alice.put(f"/tools/{uuid.uuid4()}", json={"name": "x", "tool_type": "custom"})).status_code == 404


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({}, "definition.url"),
        ({"url": "ftp://files.example/x"}, "definition.url"),
        ({"url": "/relative"}, "definition.url"),
        ({"url": 42}, "definition.url"),
        ({"url": "https://api.example/x", "method": "FETCH"}, "definition.method"),
    ],
)
async def test_api_tools_need_a_url_and_a_known_method(alice: Caller, definition: dict, field: str) -> None:
    r = await alice.post("/tools", json={"name": "Bad", "tool_type": "api", "definition": definition})
    assert r.status_code == 422
    assert r.json()["detail"].startswith(f"{field}:")


async def test_search_by_tags_has_all_and_by_type(alice: Caller, bob: Caller) -> None:
    made = {}
    for name, tool_type, tags in [
        ("a", "custom", ["x", "y"]),
        ("b", "custom", ["x"]),
        ("c", "api", ["x", "y", "z"]),
    ]:
        body = {"name": name, "tool_type": tool_type, "tags": tags}
        if tool_type == "api":
            body["definition"] = {"url": "http://127.0.0.1:9/c"}
        made[name] = (await alice.post("/tools", json=body)).json()["tool_id"]
    await bob.post("/tools", json={"name": "bob's", "tool_type": "custom", "tags": ["x", "y"]})

    async def names(**params: object) -> set[str]:
        items = (await alice.get("/tools", params=params)).json()["items"]
        return {t["name"] for t in items if not t["builtin"]}

    assert await names(tag=["x"]) == {"a", "b", "c"}
    assert await names(tag=["x", "y"]) == {"a", "c"}
    assert await names(tag=["x", "y", "z"]) == {"c"}
    assert await names(tag=["x"], type="custom") == {"a", "b"}
    assert await names(tag=["nope"]) == set()
    assert {t["name"] for t in (await alice.get("/tools", params={"tag": "math"})).json()["items"]} == {"calculator"}


async def test_tool_list_pages_through_everything_once(alice: Caller) -> None:
    for i in range(5):
        await alice.post("/tools", json={"name": f"t{i}", "tool_type": "custom", "tags": ["paged"]})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2, "tag": "paged"}
        if cursor:
            params["cursor"] = cursor
        page = (await alice.get("/tools", params=params)).json()
        seen += [t["name"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["t4", "t3", "t2", "t1", "t0"]
