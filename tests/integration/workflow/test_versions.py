"""Immutable versions: the trigger, racing final saves, listing and restore."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.integration.workflow.conftest import Caller, agent, definition

pytestmark = pytest.mark.integration


async def test_the_database_refuses_to_change_or_remove_a_version(alice: Caller, pg: asyncpg.Connection) -> None:
    wid = uuid.UUID((await alice.save(definition("Frozen"), "final"))["workflow_id"])
    statements = [
        ("UPDATE workflow.workflow_versions SET name = 'changed' WHERE workflow_id = $1", (wid,)),
        ("UPDATE workflow.workflow_versions SET version = 99 WHERE workflow_id = $1", (wid,)),
        ("DELETE FROM workflow.workflow_versions WHERE workflow_id = $1", (wid,)),
        ("TRUNCATE workflow.workflow_versions", ()),
    ]
    for sql, args in statements:
        with pytest.raises(asyncpg.RestrictViolationError, match="immutable"):
            await pg.execute(sql, *args)
    row = await pg.fetchrow("SELECT version, name FROM workflow.workflow_versions WHERE workflow_id = $1", wid)
    assert dict(row) == {"version": 1, "name": "Frozen"}


async def test_a_version_number_cannot_be_written_twice(alice: Caller, pg: asyncpg.Connection) -> None:
    wid = uuid.UUID((await alice.save(definition("Once"), "final"))["workflow_id"])
    with pytest.raises(asyncpg.UniqueViolationError):
        await pg.execute(
            "INSERT INTO workflow.workflow_versions (workflow_id, version, name, definition) VALUES ($1, 1, 'x', '{}')",
            wid,
        )


async def test_ten_concurrent_final_saves_get_versions_one_to_ten(
    alice: Caller, pg: asyncpg.Connection, fs_root: Path
) -> None:
    wid = (await alice.save(definition("Race", [agent("Researcher", "agt_racer")]), "draft"))["workflow_id"]

    async def final(i: int) -> int:
        saved = await alice.save(
            definition(f"Race {i}", [agent("Researcher", "agt_racer", goal=f"goal {i}")]), "final", wid
        )
        return int(saved["version"])

    numbers = await asyncio.gather(*(final(i) for i in range(10)))
    assert sorted(numbers) == list(range(1, 11))

    rows = await pg.fetch(
        "SELECT version, name, definition FROM workflow.workflow_versions WHERE workflow_id = $1 ORDER BY version",
        uuid.UUID(wid),
    )
    assert [r["version"] for r in rows] == list(range(1, 11))
    # Each snapshot is the definition of the save that got its number.
    by_number = dict(zip(numbers, range(10), strict=True))
    for r in rows:
        assert r["name"] == f"Race {by_number[r['version']]}"
        assert json.loads(r["definition"])["agents"][0]["goal"] == f"goal {by_number[r['version']]}"
    current = (await alice.get(f"/workflows/{wid}")).json()
    assert current["version"] == 10 and current["name"] == rows[-1]["name"]
    # The working copy is written under the row lock, so it is the last version's too.
    final_copy = json.loads((fs_root / str(alice.user_id) / "final" / f"{wid}.json").read_text())
    assert final_copy["name"] == rows[-1]["name"]
    assert await pg.fetchval("SELECT count(*) FROM workflow.agents WHERE source_workflow_id = $1", uuid.UUID(wid)) == 1


async def test_versions_list_get_paginate_and_restore(alice: Caller) -> None:
    wid = (await alice.save(definition("v1", [agent("Researcher", "agt_researcher")]), "final"))["workflow_id"]
    for n in (2, 3):
        await alice.save(definition(f"v{n}", [agent("Researcher", "agt_researcher", goal=f"goal {n}")]), "final", wid)
    await alice.save(definition("work in progress"), "draft", wid)

    page = (await alice.get(f"/workflows/{wid}/versions", params={"limit": 2})).json()
    assert [v["version"] for v in page["items"]] == [1, 2]
    assert all("definition" not in v for v in page["items"])
    rest = (await alice.get(f"/workflows/{wid}/versions", params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert [v["version"] for v in rest["items"]] == [3] and rest["next_cursor"] is None

    v2 = (await alice.get(f"/workflows/{wid}/versions/2")).json()
    assert v2["name"] == "v2" and v2["definition"]["agents"][0]["goal"] == "goal 2"
    assert (await alice.get(f"/workflows/{wid}/versions/4")).status_code == 404

    r = await alice.post(f"/workflows/{wid}/versions/2/restore")
    assert r.status_code == 200, r.text
    restored = r.json()
    assert (restored["status"], restored["version"], restored["name"]) == ("draft", 3, "v2")
    assert restored["definition"] == v2["definition"]
    assert (await alice.get(f"/workflows/{wid}")).json()["definition"] == v2["definition"]
    # Restoring writes no version, and the restored agent is back in the registry with its old goal.
    assert len((await alice.get(f"/workflows/{wid}/versions")).json()["items"]) == 3
    agent_id = v2["definition"]["agents"][0]["agent_id"]
    assert (await alice.get(f"/agents/{agent_id}")).json()["definition"]["goal"] == "goal 2"
    assert (await alice.post(f"/workflows/{wid}/versions/9/restore")).status_code == 404
