"""Two users: every workflow, version, agent and tool endpoint answers 404 for the other's objects, and
lists never show them. Bob's attempts change nothing of Alice's."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.integration.workflow.conftest import Caller, agent, definition

pytestmark = pytest.mark.integration


@pytest.fixture
async def alices_things(alice: Caller) -> dict[str, str]:
    wf = await alice.save(definition("Alice's flow", [agent("Researcher")]), "final")
    await alice.save(definition("Alice's flow"), "temp", wf["workflow_id"])
    temp_only = await alice.save(definition("Alice's idea"), "temp")
    tool = (await alice.post("/tools", json={"name": "Alice's tool", "tool_type": "custom", "tags": ["mine"]})).json()
    return {
        "wf": wf["workflow_id"],
        "temp": temp_only["workflow_id"],
        "agent": wf["definition"]["agents"][0]["agent_id"],
        "tool": tool["tool_id"],
    }


def _cases(t: dict[str, str]) -> list[tuple[str, str, Any]]:
    save = {"definition": definition("Bob was here"), "save_as": "draft"}
    temp = {"definition": definition("Bob was here"), "save_as": "temp"}
    return [
        ("GET", f"/workflows/{t['wf']}", None),
        ("PUT", f"/workflows/{t['wf']}", save),
        ("PUT", f"/workflows/{t['wf']}", temp),
        ("PUT", f"/workflows/{t['temp']}", save),
        ("GET", f"/workflows/{t['wf']}/temp", None),
        ("GET", f"/workflows/{t['temp']}/temp", None),
        ("GET", f"/workflows/{t['wf']}/versions", None),
        ("GET", f"/workflows/{t['wf']}/versions/1", None),
        ("POST", f"/workflows/{t['wf']}/versions/1/restore", None),
        ("DELETE", f"/workflows/{t['wf']}", None),
        ("DELETE", f"/workflows/{t['temp']}", None),
        ("GET", f"/agents/{t['agent']}", None),
        ("PUT", f"/agents/{t['agent']}", {"name": "Bob's now"}),
        ("DELETE", f"/agents/{t['agent']}", None),
        ("GET", f"/tools/{t['tool']}", None),
        ("PUT", f"/tools/{t['tool']}", {"name": "Bob's now", "tool_type": "custom"}),
        ("DELETE", f"/tools/{t['tool']}", None),
    ]


async def test_every_endpoint_is_404_for_another_users_objects(
    alice: Caller, bob: Caller, alices_things: dict[str, str], pg: asyncpg.Connection, fs_root: Path
) -> None:
    before = await _snapshot(pg, alice)
    files_before = sorted((p, p.read_bytes()) for p in (fs_root / str(alice.user_id)).rglob("*.json"))
    for method, path, body in _cases(alices_things):
        r = await bob.request(method, path, json=body) if body is not None else await bob.request(method, path)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert set(r.json()) == {"error", "detail"}
    assert await _snapshot(pg, alice) == before
    assert sorted((p, p.read_bytes()) for p in (fs_root / str(alice.user_id)).rglob("*.json")) == files_before
    assert not (fs_root / str(bob.user_id)).exists()  # not even a temp copy under Bob's name
    # And everything still works for Alice.
    for method, path, _ in _cases(alices_things):
        if method == "GET":
            assert (await alice.get(path)).status_code == 200, path


async def test_lists_never_show_another_users_objects(
    alice: Caller, bob: Caller, alices_things: dict[str, str]
) -> None:
    await bob.save(definition("Bob's flow"), "final")
    await bob.post("/tools", json={"name": "Bob's tool", "tool_type": "custom", "tags": ["mine"]})
    await bob.post("/agents", json={"name": "Bob's agent"})
    for caller, other in ((bob, alice), (alice, bob)):
        for path, key in (("/workflows", "workflow_id"), ("/agents", "agent_id"), ("/tools", "tool_id")):
            for params in ({}, {"status": "final"} if path == "/workflows" else {"limit": 200}):
                items = (await caller.get(path, params=params)).json()["items"]
                assert items, (path, params)
                owners = await _owners(caller, other, path, [i[key] for i in items])
                assert other.user_id not in owners, (path, params)
    tagged = (await bob.get("/tools", params={"tag": "mine"})).json()["items"]
    assert [t["name"] for t in tagged] == ["Bob's tool"]
    by_workflow = (await bob.get("/agents", params={"source_workflow_id": alices_things["wf"]})).json()["items"]
    assert by_workflow == []


async def _owners(caller: Caller, other: Caller, path: str, ids: list[str]) -> set[uuid.UUID]:
    """Whose each listed object is: the caller can read all of them (or they are builtin), the other cannot."""
    owners: set[uuid.UUID] = set()
    for object_id in ids:
        mine = (await caller.get(f"{path}/{object_id}")).status_code == 200
        theirs = (await other.get(f"{path}/{object_id}")).status_code == 200
        assert mine, (path, object_id)
        if theirs:
            body = (await other.get(f"{path}/{object_id}")).json()
            if not body.get("builtin"):
                owners.add(other.user_id)
    return owners


async def _snapshot(pg: asyncpg.Connection, user: Caller) -> list[Any]:
    rows = []
    for table in ("workflows", "agents", "tools"):
        rows += [
            dict(r)
            for r in await pg.fetch(f"SELECT * FROM workflow.{table} WHERE user_id = $1 ORDER BY 1", user.user_id)
        ]
    rows += [
        dict(r)
        for r in await pg.fetch(
            "SELECT v.* FROM workflow.workflow_versions v JOIN workflow.workflows w USING (workflow_id) "
            "WHERE w.user_id = $1 ORDER BY 1, 2",
            user.user_id,
        )
    ]
    return rows
