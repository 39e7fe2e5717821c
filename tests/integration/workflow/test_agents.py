"""Agent sync on draft/final saves, ID normalisation, and the agents endpoints."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from shared.ids import parse_uuid
from tests.integration.workflow.conftest import Caller, agent, definition

pytestmark = pytest.mark.integration


async def test_save_edit_save_keeps_one_row_with_the_new_goal(alice: Caller, pg: asyncpg.Connection) -> None:
    saved = await alice.save(definition("Sync", [agent("Researcher", goal="Find facts")]), "draft")
    wid = saved["workflow_id"]
    agent_id = saved["definition"]["agents"][0]["agent_id"]
    uuid.UUID(agent_id)  # assigned and written back
    row = await pg.fetchrow("SELECT * FROM workflow.agents WHERE agent_id = $1", uuid.UUID(agent_id))
    first_created = row["created_at"]

    edited = saved["definition"]
    edited["agents"][0]["goal"] = "Find better facts"
    again = await alice.save(edited, "final", wid)
    assert again["definition"]["agents"][0]["agent_id"] == agent_id

    rows = await pg.fetch("SELECT * FROM workflow.agents WHERE user_id = $1", alice.user_id)
    assert len(rows) == 1
    assert rows[0]["agent_id"] == uuid.UUID(agent_id) and rows[0]["created_at"] == first_created
    assert rows[0]["source_workflow_id"] == uuid.UUID(wid)
    assert rows[0]["updated_at"] > first_created

    out = (await alice.get(f"/agents/{agent_id}")).json()
    assert out["definition"]["goal"] == "Find better facts"
    assert out["source_workflow_id"] == wid and out["name"] == "Researcher"
    assert set(out) == {"agent_id", "name", "source_workflow_id", "definition", "created_at", "updated_at"}


async def test_agent_ids_are_normalised_and_connections_follow(alice: Caller) -> None:
    hex_id = uuid.uuid4()
    dashed = uuid.uuid4()
    plain = uuid.uuid4()
    d = definition(
        "IDs",
        [
            agent("A", f"agt_{hex_id.hex}"),
            agent("B", f"agt_{dashed}"),
            agent("C", str(plain)),
            agent("D", "agt_reviewer"),
            agent("E"),
        ],
    )
    d["connections"] = [
        {"from": f"agt_{hex_id.hex}", "to": f"agt_{dashed}"},
        {"from": f"agt_{dashed}", "to": "agt_reviewer", "label": "kept"},
        {"from": "agt_reviewer", "to": "somebody-else"},
    ]
    saved = await alice.save(d, "draft")
    ids = [a["agent_id"] for a in saved["definition"]["agents"]]
    reviewer = parse_uuid("agt_reviewer", "agt", scope=alice.user_id)
    assert ids[:4] == [str(hex_id), str(dashed), str(plain), str(reviewer)]
    uuid.UUID(ids[4])
    assert saved["definition"]["connections"] == [
        {"from": str(hex_id), "to": str(dashed)},
        {"from": str(dashed), "to": str(reviewer), "label": "kept"},
        {"from": str(reviewer), "to": "somebody-else"},
    ]
    listed = (await alice.get("/agents", params={"source_workflow_id": saved["workflow_id"]})).json()["items"]
    assert sorted(a["agent_id"] for a in listed) == sorted(ids)


async def test_saving_again_never_duplicates_and_removed_agents_stay(alice: Caller, pg: asyncpg.Connection) -> None:
    saved = await alice.save(definition("Team", [agent("A", "agt_a"), agent("B", "agt_b")]), "draft")
    wid = saved["workflow_id"]
    for _ in range(3):
        await alice.save(definition("Team", [agent("A", "agt_a"), agent("B", "agt_b")]), "draft", wid)
    await alice.save(definition("Team", [agent("A", "agt_a")]), "final", wid)
    count = await pg.fetchval("SELECT count(*) FROM workflow.agents WHERE user_id = $1", alice.user_id)
    assert count == 2
    b = parse_uuid("agt_b", "agt", scope=alice.user_id)
    assert (await alice.get(f"/agents/{b}")).status_code == 200


async def test_free_form_ids_of_two_users_do_not_clash(alice: Caller, bob: Caller) -> None:
    a = await alice.save(definition("Mine", [agent("Writer", "writer")]), "draft")
    b = await bob.save(definition("Mine too", [agent("Writer", "writer")]), "draft")
    assert a["definition"]["agents"][0]["agent_id"] != b["definition"]["agents"][0]["agent_id"]


async def test_duplicate_agent_ids_in_one_definition_are_422(alice: Caller) -> None:
    same = uuid.uuid4()
    d = definition("Twins", [agent("A", str(same)), agent("B", f"agt_{same.hex}")])
    r = await alice.post("/workflows", json={"definition": d, "save_as": "draft"})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("definition.agents.1.agent_id:")


async def test_agents_crud_and_pagination(alice: Caller) -> None:
    r = await alice.post("/agents", json={"name": "Solo", "role": "Helper", "extra": {"k": 1}})
    assert r.status_code == 201, r.text
    solo = r.json()
    assert solo["source_workflow_id"] is None and solo["definition"]["extra"] == {"k": 1}
    assert solo["definition"]["agent_id"] == solo["agent_id"]

    r = await alice.post("/agents", json={"agent_id": "agt_named", "name": "Named"})
    named = r.json()
    assert named["agent_id"] == str(parse_uuid("agt_named", "agt", scope=alice.user_id))
    assert (await alice.post("/agents", json={"agent_id": "agt_named", "name": "Again"})).status_code == 409

    r = await alice.put(f"/agents/{named['agent_id']}", json={"name": "Renamed", "goal": "new"})
    assert r.status_code == 200
    assert r.json()["name"] == "Renamed" and r.json()["definition"]["goal"] == "new"
    assert r.json()["created_at"] == named["created_at"]
    mismatch = await alice.put(f"/agents/{named['agent_id']}", json={"agent_id": solo["agent_id"], "name": "X"})
    assert mismatch.status_code == 422
    assert (await alice.put(f"/agents/{uuid.uuid4()}", json={"name": "Ghost"})).status_code == 404

    first = (await alice.get("/agents", params={"limit": 1})).json()
    second = (await alice.get("/agents", params={"limit": 1, "cursor": first["next_cursor"]})).json()
    assert [a["agent_id"] for a in first["items"] + second["items"]] == [named["agent_id"], solo["agent_id"]]
    assert second["next_cursor"] is None

    assert (await alice.delete(f"/agents/{solo['agent_id']}")).status_code == 204
    assert (await alice.get(f"/agents/{solo['agent_id']}")).status_code == 404
    assert (await alice.delete(f"/agents/{solo['agent_id']}")).status_code == 404
