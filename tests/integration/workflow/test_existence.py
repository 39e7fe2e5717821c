"""Another user's IDs answer exactly as IDs never used: a save or create under one succeeds under an ID of the
caller's own, and the other user's object is untouched. Nothing tells a caller that an ID is taken by someone."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.workflow.domain.definitions import own_id
from tests.integration.workflow.conftest import Caller, agent, definition

pytestmark = pytest.mark.integration


def _shape(r: httpx.Response) -> tuple[int, Any]:
    """What two answers must share: the status and the body's keys (or, for an error, its code)."""
    body = r.json()
    return r.status_code, body.get("error") or sorted(body)


async def _row(pg: asyncpg.Connection, table: str, key: str, value: uuid.UUID) -> dict[str, Any] | None:
    row = await pg.fetchrow(f"SELECT * FROM workflow.{table} WHERE {key} = $1", value)
    return dict(row) if row else None


@pytest.mark.parametrize("spelling", ["uuid", "legacy"])
async def test_post_agents_with_another_users_id_answers_as_an_unused_id(
    alice: Caller, bob: Caller, pg: asyncpg.Connection, spelling: str
) -> None:
    theirs = uuid.UUID((await alice.post("/agents", json={"name": "Secret", "goal": "alice's"})).json()["agent_id"])
    before = await _row(pg, "agents", "agent_id", theirs)
    unused = uuid.uuid4()
    ids = {"uuid": (str(theirs), str(unused)), "legacy": (f"agt_{theirs.hex}", f"agt_{unused.hex}")}[spelling]

    taken = await bob.post("/agents", json={"agent_id": ids[0], "name": "Mine", "goal": "bob's"})
    fresh = await bob.post("/agents", json={"agent_id": ids[1], "name": "Mine", "goal": "bob's"})
    assert _shape(taken) == _shape(fresh) == (201, sorted(fresh.json()))
    assert fresh.json()["agent_id"] == str(unused)
    assigned = taken.json()["agent_id"]
    assert assigned == str(own_id(theirs, "agt", bob.user_id))
    assert taken.json()["definition"]["agent_id"] == assigned
    assert (await bob.get(f"/agents/{assigned}")).json()["definition"]["goal"] == "bob's"

    # Again: both are now the caller's own, and both say so the same way.
    again_taken = await bob.post("/agents", json={"agent_id": ids[0], "name": "Mine"})
    again_fresh = await bob.post("/agents", json={"agent_id": ids[1], "name": "Mine"})
    assert _shape(again_taken) == _shape(again_fresh) == (409, "agent_exists")
    assert assigned in again_taken.json()["detail"] and str(theirs) not in again_taken.json()["detail"]

    assert await _row(pg, "agents", "agent_id", theirs) == before
    assert (await bob.get(f"/agents/{theirs}")).status_code == 404
    assert (await alice.get(f"/agents/{theirs}")).json()["definition"]["goal"] == "alice's"


async def test_post_tools_with_another_users_id_answers_as_an_unused_id(
    alice: Caller, bob: Caller, pg: asyncpg.Connection
) -> None:
    body = {"name": "Alice's tool", "tool_type": "custom", "tags": ["secret"]}
    theirs = uuid.UUID((await alice.post("/tools", json=body)).json()["tool_id"])
    before = await _row(pg, "tools", "tool_id", theirs)
    unused = uuid.uuid4()

    mine = {"name": "Bob's tool", "tool_type": "custom"}
    taken = await bob.post("/tools", json={**mine, "tool_id": f"tool_{theirs.hex}"})
    fresh = await bob.post("/tools", json={**mine, "tool_id": str(unused)})
    assert _shape(taken) == _shape(fresh) == (201, sorted(fresh.json()))
    assert fresh.json()["tool_id"] == str(unused)
    assert taken.json()["tool_id"] == str(own_id(theirs, "tool", bob.user_id))

    again_taken = await bob.post("/tools", json={**mine, "tool_id": str(theirs)})
    again_fresh = await bob.post("/tools", json={**mine, "tool_id": str(unused)})
    assert _shape(again_taken) == _shape(again_fresh) == (409, "tool_exists")

    assert await _row(pg, "tools", "tool_id", theirs) == before
    assert (await bob.get(f"/tools/{theirs}")).status_code == 404
    assert {t["name"] for t in (await bob.get("/tools", params={"tag": "secret"})).json()["items"]} == set()


@pytest.mark.parametrize("save_as", ["draft", "final"])
async def test_a_definition_with_another_users_agent_saves_as_one_with_unused_ids(
    alice: Caller, bob: Caller, pg: asyncpg.Connection, save_as: str
) -> None:
    shared_def = definition("Shared", [agent("Researcher", goal="alice's"), agent("Writer")])
    shared_def["connections"] = [{"from": "Researcher", "to": "Writer"}]
    alices = await alice.save(shared_def, "final")
    theirs = [uuid.UUID(a["agent_id"]) for a in alices["definition"]["agents"]]
    before = [await _row(pg, "agents", "agent_id", t) for t in theirs]

    # Bob saves what alice shared with him (her IDs, spelled as legacy IDs, with a connection by one of them),
    # and beside it the same definition with IDs nobody ever used.
    def copied(ids: list[str]) -> dict[str, Any]:
        d = definition("Copied", [agent("Researcher", ids[0], goal="bob's"), agent("Writer", ids[1])])
        d["connections"] = [{"from": ids[0], "to": ids[1], "label": "kept"}]
        return d

    taken = await bob.post(
        "/workflows", json={"definition": copied([f"agt_{t.hex}" for t in theirs]), "save_as": save_as}
    )
    fresh = await bob.post(
        "/workflows", json={"definition": copied([str(uuid.uuid4()), str(uuid.uuid4())]), "save_as": save_as}
    )
    assert _shape(taken) == _shape(fresh) == (201, sorted(fresh.json()))
    assert (taken.json()["status"], taken.json()["version"]) == (fresh.json()["status"], fresh.json()["version"])

    saved = taken.json()
    renamed = [str(own_id(t, "agt", bob.user_id)) for t in theirs]
    assert [a["agent_id"] for a in saved["definition"]["agents"]] == renamed
    assert saved["definition"]["connections"] == [{"from": renamed[0], "to": renamed[1], "label": "kept"}]
    stored = (await bob.get(f"/workflows/{saved['workflow_id']}")).json()["definition"]
    assert stored == saved["definition"]
    if save_as == "final":
        version = (await bob.get(f"/workflows/{saved['workflow_id']}/versions/1")).json()
        assert version["definition"] == saved["definition"]
    registry = (await bob.get("/agents", params={"source_workflow_id": saved["workflow_id"]})).json()["items"]
    assert sorted(a["agent_id"] for a in registry) == sorted(renamed)

    # Saving the copy again lands on the same agents: no new row per save.
    await bob.save(copied([str(t) for t in theirs]), "draft", saved["workflow_id"])
    assert await pg.fetchval("SELECT count(*) FROM workflow.agents WHERE user_id = $1", bob.user_id) == 4

    # Alice's agents are exactly as she left them.
    assert [await _row(pg, "agents", "agent_id", t) for t in theirs] == before
    assert (await alice.get(f"/workflows/{alices['workflow_id']}")).json()["definition"] == alices["definition"]


async def test_a_temp_save_keeps_the_ids_and_the_draft_after_it_renames_them(
    alice: Caller, bob: Caller, pg: asyncpg.Connection
) -> None:
    theirs = (await alice.save(definition("Hers", [agent("A")]), "draft"))["definition"]["agents"][0]["agent_id"]
    temp = await bob.save(definition("Scratch", [agent("A", theirs)]), "temp")
    assert temp["definition"]["agents"][0]["agent_id"] == theirs  # as for any ID: temp saves touch no registry
    draft = await bob.save(temp["definition"], "draft", temp["workflow_id"])
    assert draft["definition"]["agents"][0]["agent_id"] == str(own_id(uuid.UUID(theirs), "agt", bob.user_id))
    owner = await pg.fetchval("SELECT user_id FROM workflow.agents WHERE agent_id = $1", uuid.UUID(theirs))
    assert owner == alice.user_id


async def test_when_the_derived_id_is_taken_too_a_random_one_is_assigned(
    alice: Caller, bob: Caller, carol: Caller, pg: asyncpg.Connection
) -> None:
    theirs = uuid.UUID((await alice.post("/agents", json={"name": "A"})).json()["agent_id"])
    # Carol squats on the ID bob would be given instead.
    squatted = own_id(theirs, "agt", bob.user_id)
    assert (await carol.post("/agents", json={"agent_id": str(squatted), "name": "C"})).status_code == 201

    r = await bob.post("/agents", json={"agent_id": str(theirs), "name": "B"})
    assert r.status_code == 201
    assert r.json()["agent_id"] not in (str(theirs), str(squatted))
    saved = await bob.save(definition("Again", [agent("B", str(theirs))]), "draft")
    assert saved["definition"]["agents"][0]["agent_id"] not in (str(theirs), str(squatted))
    owners = await pg.fetch("SELECT user_id FROM workflow.agents WHERE agent_id = ANY($1)", [theirs, squatted])
    assert sorted(str(o["user_id"]) for o in owners) == sorted([str(alice.user_id), str(carol.user_id)])


async def test_every_answer_about_another_users_object_is_the_answer_about_an_unused_id(
    alice: Caller, bob: Caller
) -> None:
    wf = await alice.save(definition("Alice's flow", [agent("Researcher")]), "final")
    await alice.save(definition("Alice's flow"), "temp", wf["workflow_id"])
    temp_only = (await alice.save(definition("Alice's idea"), "temp"))["workflow_id"]
    tool = (await alice.post("/tools", json={"name": "Alice's tool", "tool_type": "custom"})).json()["tool_id"]
    theirs = {
        "wf": wf["workflow_id"],
        "temp": temp_only,
        "agent": wf["definition"]["agents"][0]["agent_id"],
        "tool": tool,
    }
    save = {"definition": definition("Bob's"), "save_as": "draft"}
    requests: list[tuple[str, str, str, Any]] = [
        ("GET", "/workflows/{}", "wf", None),
        ("PUT", "/workflows/{}", "wf", save),
        ("PUT", "/workflows/{}", "temp", {**save, "save_as": "temp"}),
        ("GET", "/workflows/{}/temp", "wf", None),
        ("GET", "/workflows/{}/temp", "temp", None),
        ("GET", "/workflows/{}/versions", "wf", None),
        ("GET", "/workflows/{}/versions/1", "wf", None),
        ("POST", "/workflows/{}/versions/1/restore", "wf", None),
        ("DELETE", "/workflows/{}", "wf", None),
        ("DELETE", "/workflows/{}", "temp", None),
        ("GET", "/agents/{}", "agent", None),
        ("PUT", "/agents/{}", "agent", {"name": "Bob's"}),
        ("DELETE", "/agents/{}", "agent", None),
        ("GET", "/tools/{}", "tool", None),
        ("PUT", "/tools/{}", "tool", {"name": "Bob's", "tool_type": "custom"}),
        ("DELETE", "/tools/{}", "tool", None),
    ]

    async def answer(method: str, template: str, object_id: str, body: Any) -> tuple[int, str, str]:
        kwargs = {"json": body} if body is not None else {}
        r = await bob.request(method, template.format(object_id), **kwargs)
        return r.status_code, r.json()["error"], r.json()["detail"].replace(object_id, "<id>")

    for method, template, kind, body in requests:
        unused = str(uuid.uuid4())
        about_theirs = await answer(method, template, theirs[kind], body)
        assert about_theirs == await answer(method, template, unused, body), (method, template, kind)
        assert about_theirs[0] == 404
