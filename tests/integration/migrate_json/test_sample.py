"""The legacy sample migrated into a real PostgreSQL: exact counts, references lined up, a second run a no-op."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import asyncpg
import pytest

from shared.ids import parse_uuid
from tests.integration.migrate_json.conftest import ADMIN, add_user, counts, messages_of, run, skipped, snapshot
from tools.migrate_json.migrate import MigrationError

pytestmark = pytest.mark.integration

FINAL_WF = uuid.UUID("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
DRAFT_WF = uuid.UUID("aa2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
TEMP_WF = uuid.UUID("bb2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
RESEARCHER = uuid.UUID("3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b")
WRITER = uuid.UUID("0b8d7e2c-4f1a-4c3b-9d2e-7a6b5c4d3e2f")
WEB_SEARCH = uuid.UUID("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b")
FIRST_CHAT = uuid.UUID("5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a")

# (seen, migrated, unchanged, skipped, rows afterwards), worked out by hand from the sample:
FIRST_RUN = {
    "agents": (4, 3, 0, 1, 3),  # broken.json is truncated JSON
    "workflows": (4, 2, 0, 2, 2),  # draft + final in; temp stays out; wf_nameless's agents is not a list
    "sessions": (2, 2, 0, 0, 2),
    "tools": (3, 2, 0, 1, 2),  # tool_weird.json has the unknown type "quantum"
}
SECOND_RUN = {
    "agents": (4, 0, 3, 1, 3),
    "workflows": (4, 0, 2, 2, 2),
    "sessions": (2, 0, 2, 0, 2),
    "tools": (3, 0, 2, 1, 2),
}


async def test_sample_migrates_with_the_expected_counts(source: Path, db_url: str) -> None:
    report = await run(source, db_url)

    assert counts(report) == FIRST_RUN
    assert report.workflow_versions == 1
    assert report.changed
    reasons = skipped(report)
    assert set(reasons) == {
        "agents/broken.json",
        "workflows/draft/wf_nameless.json",
        "workflows/temp/wf_bb2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d.json",
        "tools/tool_weird.json",
    }
    assert reasons["agents/broken.json"].startswith("invalid JSON")
    assert "agents: Input should be a valid list" in reasons["workflows/draft/wf_nameless.json"]
    assert reasons["workflows/temp/wf_bb2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d.json"].startswith("temp workflow")
    assert "quantum" in reasons["tools/tool_weird.json"]


async def test_a_second_run_changes_nothing_and_says_so(source: Path, db_url: str, pg: asyncpg.Connection) -> None:
    await run(source, db_url)
    before = await snapshot(pg)

    report = await run(source, db_url)

    assert counts(report) == SECOND_RUN
    assert not report.changed
    assert "changes: none" in report.render()
    assert report.workflow_versions == 1  # the final workflow did not get a second version
    assert await snapshot(pg) == before  # not one row touched: same updated_at, same session version


async def test_ids_and_references_line_up(source: Path, db_url: str, pg: asyncpg.Connection) -> None:
    await run(source, db_url)

    reviewer = parse_uuid("agt_reviewer", "agt", scope=ADMIN)
    calculator = parse_uuid("tool_calc", "tool", scope=ADMIN)
    legacy_42 = parse_uuid("sess_legacy-42", "sess", scope=ADMIN)
    agents = {r["agent_id"]: r for r in await pg.fetch("SELECT * FROM workflow.agents WHERE user_id = $1", ADMIN)}
    assert set(agents) == {RESEARCHER, WRITER, reviewer}
    # The agent file wins the registry row; the workflow sync recorded where the agent is used.
    researcher = json.loads(agents[RESEARCHER]["definition"])
    assert researcher["goal"] == "Find facts about the topic"
    assert researcher["tools"] == [str(WEB_SEARCH)]
    assert researcher["agent_id"] == str(RESEARCHER)
    assert agents[WRITER]["source_workflow_id"] == FINAL_WF
    assert agents[RESEARCHER]["source_workflow_id"] in (FINAL_WF, DRAFT_WF)
    assert agents[reviewer]["source_workflow_id"] is None

    tools = {r["tool_id"]: r for r in await pg.fetch("SELECT * FROM workflow.tools WHERE user_id = $1", ADMIN)}
    assert set(tools) == {WEB_SEARCH, calculator}
    assert tools[WEB_SEARCH]["tags"] == ["search", "web"]
    assert tools[WEB_SEARCH]["tool_type"] == "api"
    assert tools[calculator]["tags"] == ["math"]

    final = await pg.fetchrow("SELECT * FROM workflow.workflows WHERE workflow_id = $1", FINAL_WF)
    assert (final["user_id"], final["status"], final["version"]) == (ADMIN, "final", 1)
    definition = json.loads(final["definition"])
    assert [a["agent_id"] for a in definition["agents"]] == [str(RESEARCHER), str(WRITER)]
    assert definition["connections"] == [{"from": str(RESEARCHER), "to": str(WRITER)}]
    version = await pg.fetchrow("SELECT * FROM workflow.workflow_versions WHERE workflow_id = $1", FINAL_WF)
    assert version["version"] == 1 and json.loads(version["definition"]) == definition
    draft = await pg.fetchrow("SELECT status, version FROM workflow.workflows WHERE workflow_id = $1", DRAFT_WF)
    assert (draft["status"], draft["version"]) == ("draft", 0)
    assert await pg.fetchval("SELECT count(*) FROM workflow.workflow_versions WHERE workflow_id = $1", DRAFT_WF) == 0
    assert await pg.fetchval("SELECT count(*) FROM workflow.workflows WHERE workflow_id = $1", TEMP_WF) == 0

    chat = await pg.fetchrow("SELECT * FROM session.chat_sessions WHERE session_id = $1", FIRST_CHAT)
    assert (chat["context_type"], chat["context_id"]) == ("workflow", str(FINAL_WF))
    assert json.loads(chat["selected_tool_ids"]) == [str(WEB_SEARCH)]
    assert json.loads(chat["variables"]) == {"tone": "plain"}
    old = await pg.fetchrow("SELECT * FROM session.chat_sessions WHERE session_id = $1", legacy_42)
    assert (old["title"], old["message_count"], old["context_type"]) == ("Old chat", 0, "general")


async def test_messages_keep_their_order_with_seq_and_timestamps(
    source: Path, db_url: str, pg: asyncpg.Connection
) -> None:
    await run(source, db_url)

    chat = await pg.fetchrow("SELECT * FROM session.chat_sessions WHERE session_id = $1", FIRST_CHAT)
    messages = await messages_of(pg, FIRST_CHAT)
    assert [(m["seq"], m["role"], m["content"], m["created_at"]) for m in messages] == [
        (1, "user", "Tell me about tides", "2026-01-30T10:00:00.000000Z"),
        (2, "assistant", "Tides are caused by the moon.", "2026-01-30T10:00:05.000000Z"),
    ]
    assert len({m["message_id"] for m in messages}) == 2
    assert all(m["run_id"] is None and m["metadata"] == {} for m in messages)
    # The session invariants the session service relies on.
    assert chat["message_count"] == 2
    assert chat["content_bytes"] == sum(len(m["content"].encode()) for m in messages)
    # Not 1: a new row's version starts at the clock, so a re-created legacy ID never meets an old cache entry.
    assert chat["version"] > 1_700_000_000 * 1_000_000
    assert chat["created_at"].isoformat() == "2026-01-30T10:00:00+00:00"


async def test_dry_run_writes_nothing_and_prints_what_a_real_run_would(
    source: Path, db_url: str, pg: asyncpg.Connection
) -> None:
    empty = await snapshot(pg)

    dry = await run(source, db_url, dry_run=True)

    assert await snapshot(pg) == empty
    assert dry.dry_run and dry.render().startswith("DRY RUN")
    real = await run(source, db_url)
    assert counts(dry) == counts(real) == FIRST_RUN
    assert {**dry.to_json(), "dry_run": False} == real.to_json()
    # And once migrated, a dry run sees nothing left to do.
    again = await run(source, db_url, dry_run=True)
    assert counts(again) == SECOND_RUN


async def test_owner_by_email_gets_the_data_with_ids_scoped_to_them(
    source: Path, db_url: str, pg: asyncpg.Connection
) -> None:
    owner = await add_user(pg, "ops@example.com")

    report = await run(source, db_url, owner="  Ops@Example.com ")

    assert counts(report) == FIRST_RUN
    assert report.owner_id == str(owner)
    assert await pg.fetchval("SELECT count(*) FROM workflow.agents WHERE user_id = $1", ADMIN) == 0
    reviewer = parse_uuid("agt_reviewer", "agt", scope=owner)
    assert reviewer != parse_uuid("agt_reviewer", "agt", scope=ADMIN)
    assert await pg.fetchval("SELECT user_id FROM workflow.agents WHERE agent_id = $1", reviewer) == owner


async def test_an_unknown_owner_is_a_clear_error(source: Path, db_url: str, pg: asyncpg.Connection) -> None:
    with pytest.raises(MigrationError, match=r"No EchoAI user has the email nobody@example\.com"):
        await run(source, db_url, owner="nobody@example.com")
    assert (await snapshot(pg))["agents"] == []


async def test_the_same_tree_for_a_second_owner_skips_what_the_first_one_owns(
    source: Path, db_url: str, pg: asyncpg.Connection
) -> None:
    await run(source, db_url)
    admins = await snapshot(pg)
    other = await add_user(pg, "second@example.com")

    report = await run(source, db_url, owner="second@example.com")

    # UUID-shaped IDs are global and already the admin's; free-form ones are scoped, so they are new rows.
    assert counts(report) == {
        "agents": (4, 1, 0, 3, 1),
        "workflows": (4, 0, 0, 4, 0),
        "sessions": (2, 1, 0, 1, 1),
        "tools": (3, 1, 0, 2, 1),
    }
    assert "belongs to another account" in skipped(report)["workflows/final/wf_1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d.json"]
    after = await snapshot(pg)
    for table, rows in admins.items():
        assert [r for r in after[table] if r.get("user_id") != other] == rows
