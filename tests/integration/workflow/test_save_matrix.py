"""The save matrix, file by file and row by row, against real PostgreSQL and a real directory."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.integration.workflow.conftest import Caller, agent, definition

pytestmark = pytest.mark.integration

KINDS = ("draft", "temp", "final")


def copies(root: Path, user: Caller, workflow_id: str) -> dict[str, dict | None]:
    found: dict[str, dict | None] = {}
    for kind in KINDS:
        path = root / str(user.user_id) / kind / f"{workflow_id}.json"
        found[kind] = json.loads(path.read_text()) if path.exists() else None
    return found


async def db_state(pg: asyncpg.Connection, workflow_id: str) -> dict[str, object]:
    row = await pg.fetchrow("SELECT * FROM workflow.workflows WHERE workflow_id = $1", uuid.UUID(workflow_id))
    versions = await pg.fetch(
        "SELECT version FROM workflow.workflow_versions WHERE workflow_id = $1 ORDER BY version", uuid.UUID(workflow_id)
    )
    agents = await pg.fetchval(
        "SELECT count(*) FROM workflow.agents WHERE source_workflow_id = $1", uuid.UUID(workflow_id)
    )
    return {"row": dict(row) if row else None, "versions": [v["version"] for v in versions], "agents": agents}


async def test_draft_writes_draft_file_and_row_without_version(
    alice: Caller, fs_root: Path, pg: asyncpg.Connection
) -> None:
    saved = await alice.save(definition("Draft one", [agent("Researcher")]), "draft")
    assert saved["status"] == "draft" and saved["version"] == 0 and saved["name"] == "Draft one"
    wid = saved["workflow_id"]

    files = copies(fs_root, alice, wid)
    assert files["temp"] is None and files["final"] is None
    assert files["draft"] == saved["definition"]

    state = await db_state(pg, wid)
    assert state["row"] is not None
    row = state["row"]
    assert (row["status"], row["version"], row["name"], row["user_id"]) == ("draft", 0, "Draft one", alice.user_id)
    assert json.loads(row["definition"]) == saved["definition"]
    assert state["versions"] == [] and state["agents"] == 1


async def test_temp_of_a_new_workflow_touches_only_the_filesystem(
    alice: Caller, fs_root: Path, pg: asyncpg.Connection
) -> None:
    counts_before = await pg.fetchrow(
        "SELECT (SELECT count(*) FROM workflow.workflows) w, (SELECT count(*) FROM workflow.workflow_versions) v, "
        "(SELECT count(*) FROM workflow.agents) a"
    )
    saved = await alice.save(definition("Scratch", [agent("Writer", "agt_scratch")]), "temp")
    wid = saved["workflow_id"]
    uuid.UUID(wid)
    assert saved["status"] == "temp" and saved["version"] == 0

    files = copies(fs_root, alice, wid)
    assert files["draft"] is None and files["final"] is None
    assert files["temp"] == saved["definition"]
    assert await db_state(pg, wid) == {"row": None, "versions": [], "agents": 0}
    counts_after = await pg.fetchrow(
        "SELECT (SELECT count(*) FROM workflow.workflows) w, (SELECT count(*) FROM workflow.workflow_versions) v, "
        "(SELECT count(*) FROM workflow.agents) a"
    )
    # Tests run one at a time in this process, so no other save happened meanwhile.
    assert dict(counts_after) == dict(counts_before)

    r = await alice.get(f"/workflows/{wid}/temp")
    assert r.status_code == 200
    assert r.json()["definition"] == saved["definition"] and r.json()["status"] == "temp"
    # Reads come from the database, which has never heard of it.
    assert (await alice.get(f"/workflows/{wid}")).status_code == 404
    assert wid not in [w["workflow_id"] for w in (await alice.get("/workflows")).json()["items"]]


async def test_final_writes_final_file_row_and_a_version(alice: Caller, fs_root: Path, pg: asyncpg.Connection) -> None:
    saved = await alice.save(definition("Release", [agent("Researcher"), agent("Writer")]), "final")
    wid = saved["workflow_id"]
    assert saved["status"] == "final" and saved["version"] == 1

    files = copies(fs_root, alice, wid)
    assert files["draft"] is None and files["temp"] is None
    assert files["final"] == saved["definition"]

    state = await db_state(pg, wid)
    assert state["row"]["status"] == "final" and state["row"]["version"] == 1  # type: ignore[index]
    assert state["versions"] == [1] and state["agents"] == 2
    snapshot = await pg.fetchval(
        "SELECT definition FROM workflow.workflow_versions WHERE workflow_id = $1 AND version = 1", uuid.UUID(wid)
    )
    assert json.loads(snapshot) == saved["definition"]


async def test_temp_save_of_a_stored_workflow_leaves_its_row_alone(
    alice: Caller, fs_root: Path, pg: asyncpg.Connection
) -> None:
    saved = await alice.save(definition("Stable", [agent("Researcher")]), "final")
    wid = saved["workflow_id"]
    before = await db_state(pg, wid)

    edited = definition(
        "Stable, edited", [agent("Researcher", saved["definition"]["agents"][0]["agent_id"], goal="new")]
    )
    temp = await alice.save(edited, "temp", wid)
    assert temp["status"] == "temp" and temp["version"] == 1 and temp["name"] == "Stable, edited"

    assert await db_state(pg, wid) == before  # definition, updated_at, versions and agents untouched
    files = copies(fs_root, alice, wid)
    assert files["temp"] == temp["definition"] and files["final"] == saved["definition"]
    assert (await alice.get(f"/workflows/{wid}")).json()["name"] == "Stable"
    assert (await alice.get(f"/workflows/{wid}/temp")).json()["name"] == "Stable, edited"


async def test_temp_only_workflow_can_later_be_saved_as_draft(alice: Caller, pg: asyncpg.Connection) -> None:
    temp = await alice.save(definition("Idea"), "temp")
    wid = temp["workflow_id"]
    draft = await alice.save(definition("Idea, kept"), "draft", wid)
    assert draft["workflow_id"] == wid and draft["status"] == "draft"
    assert (await db_state(pg, wid))["row"] is not None


async def test_put_on_an_unknown_workflow_is_404_and_creates_nothing(alice: Caller, pg: asyncpg.Connection) -> None:
    wid = str(uuid.uuid4())
    for save_as in KINDS:
        r = await alice.put(f"/workflows/{wid}", json={"definition": definition(), "save_as": save_as})
        assert r.status_code == 404, (save_as, r.text)
        assert r.json()["error"] == "workflow_not_found"
    assert (await db_state(pg, wid))["row"] is None


async def test_draft_then_final_then_draft_moves_status_and_keeps_version(alice: Caller, fs_root: Path) -> None:
    wid = (await alice.save(definition("Cycle"), "draft"))["workflow_id"]
    final = await alice.save(definition("Cycle"), "final", wid)
    assert (final["status"], final["version"]) == ("final", 1)
    draft = await alice.save(definition("Cycle, more"), "draft", wid)
    assert (draft["status"], draft["version"]) == ("draft", 1)
    files = copies(fs_root, alice, wid)
    assert files["draft"]["name"] == "Cycle, more" and files["final"]["name"] == "Cycle"  # type: ignore[index]
    listed = {w["workflow_id"]: w for w in (await alice.get("/workflows", params={"status": "draft"})).json()["items"]}
    assert listed[wid]["version"] == 1 and "definition" not in listed[wid]
    finals = (await alice.get("/workflows", params={"status": "final"})).json()["items"]
    assert wid not in [w["workflow_id"] for w in finals]


def _block(fs_root: Path, user: Caller, kind: str) -> None:
    """Make `{root}/{user}/{kind}` a plain file: no copy can be written there, even by root."""
    (fs_root / str(user.user_id)).mkdir(parents=True, exist_ok=True)
    (fs_root / str(user.user_id) / kind).write_text("not a directory")


@pytest.mark.parametrize("save_as", ["draft", "final"])
async def test_draft_or_final_save_succeeds_when_the_file_cannot_be_written(
    alice: Caller, fs_root: Path, pg: asyncpg.Connection, caplog: pytest.LogCaptureFixture, save_as: str
) -> None:
    _block(fs_root, alice, save_as)
    with caplog.at_level(logging.WARNING, logger="echoai.workflow"):
        r = await alice.post("/workflows", json={"definition": definition("Unwritable"), "save_as": save_as})
    assert r.status_code == 201, r.text
    wid = r.json()["workflow_id"]
    assert (await db_state(pg, wid))["row"] is not None
    assert (await alice.get(f"/workflows/{wid}")).status_code == 200
    assert any("working copy not written" in rec.getMessage() and save_as in rec.getMessage() for rec in caplog.records)


async def test_temp_save_fails_with_503_when_the_file_cannot_be_written(
    alice: Caller, fs_root: Path, pg: asyncpg.Connection
) -> None:
    _block(fs_root, alice, "temp")
    r = await alice.post("/workflows", json={"definition": definition("Nowhere"), "save_as": "temp"})
    assert r.status_code == 503
    assert r.json()["error"] == "storage_unavailable" and set(r.json()) == {"error", "detail"}
    assert await pg.fetchval("SELECT count(*) FROM workflow.workflows WHERE user_id = $1", alice.user_id) == 0


async def test_delete_then_404_gone_from_lists_versions_and_copies_kept_only_in_db(
    alice: Caller, fs_root: Path, pg: asyncpg.Connection
) -> None:
    wid = (await alice.save(definition("Doomed"), "final"))["workflow_id"]
    await alice.save(definition("Doomed"), "temp", wid)
    assert (await alice.delete(f"/workflows/{wid}")).status_code == 204

    for path in (
        f"/workflows/{wid}",
        f"/workflows/{wid}/temp",
        f"/workflows/{wid}/versions",
        f"/workflows/{wid}/versions/1",
    ):
        assert (await alice.get(path)).status_code == 404, path
    assert wid not in [w["workflow_id"] for w in (await alice.get("/workflows")).json()["items"]]
    assert (await alice.delete(f"/workflows/{wid}")).status_code == 404
    put = await alice.put(f"/workflows/{wid}", json={"definition": definition(), "save_as": "draft"})
    assert put.status_code == 404
    assert (await db_state(pg, wid))["versions"] == [1]
    assert copies(fs_root, alice, wid) == {"draft": None, "temp": None, "final": None}


async def test_delete_of_a_temp_only_workflow_removes_its_copy(alice: Caller, fs_root: Path) -> None:
    wid = (await alice.save(definition("Passing thought"), "temp"))["workflow_id"]
    assert (await alice.delete(f"/workflows/{wid}")).status_code == 204
    assert copies(fs_root, alice, wid)["temp"] is None
    assert (await alice.get(f"/workflows/{wid}/temp")).status_code == 404
    assert (await alice.delete(f"/workflows/{wid}")).status_code == 404


async def test_unknown_keys_are_kept_everywhere(alice: Caller, fs_root: Path) -> None:
    d = definition("Extras", [agent("Researcher", custom={"x": [1, 2]})], ui={"zoom": 1.5}, tags=["a"])
    d["connections"] = []
    saved = await alice.save(d, "final")
    wid = saved["workflow_id"]
    stored = (await alice.get(f"/workflows/{wid}")).json()["definition"]
    assert stored["ui"] == {"zoom": 1.5} and stored["tags"] == ["a"]
    assert stored["agents"][0]["custom"] == {"x": [1, 2]}
    assert (await alice.get(f"/workflows/{wid}/versions/1")).json()["definition"] == stored
    assert copies(fs_root, alice, wid)["final"] == stored
