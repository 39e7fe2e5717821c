"""Re-running after the legacy files (or the database) changed, and files that must be skipped."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.integration.migrate_json.conftest import ADMIN, counts, messages_of, run, skipped, snapshot

pytestmark = pytest.mark.integration

FINAL = "workflows/final/wf_1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d.json"
DRAFT = "workflows/draft/wf_aa2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d.json"
CHAT = "sessions/sess_5d4c3b2a1f0e4d9c8b7a6f5e4d3c2b1a.json"
FINAL_WF = uuid.UUID("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
DRAFT_WF = uuid.UUID("aa2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
FIRST_CHAT = uuid.UUID("5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a")


def edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


async def test_changed_files_are_written_again_and_a_changed_final_gets_the_next_version(
    source: Path, db_url: str, pg: asyncpg.Connection
) -> None:
    await run(source, db_url)
    edit(source / FINAL, lambda d: d["agents"][1].update(goal="Summarise briefly"))
    edit(source / DRAFT, lambda d: d.update(name="Draft idea, renamed"))

    report = await run(source, db_url)

    assert counts(report)["workflows"] == (4, 2, 0, 2, 2)
    outcomes = {f.path: f.outcome for f in report.files}
    assert outcomes[FINAL] == outcomes[DRAFT] == "updated"
    versions = await pg.fetch(
        "SELECT version, definition FROM workflow.workflow_versions WHERE workflow_id = $1 ORDER BY version", FINAL_WF
    )
    assert [v["version"] for v in versions] == [1, 2]
    assert json.loads(versions[1]["definition"])["agents"][1]["goal"] == "Summarise briefly"
    draft = await pg.fetchrow("SELECT name, status, version FROM workflow.workflows WHERE workflow_id = $1", DRAFT_WF)
    assert tuple(draft) == ("Draft idea, renamed", "draft", 0)
    # Settled again: a third run has nothing to do.
    assert not (await run(source, db_url)).changed


async def test_a_final_and_a_draft_of_one_workflow_give_a_version_and_a_newer_draft(
    source: Path, db_url: str, pg: asyncpg.Connection
) -> None:
    final = json.loads((source / FINAL).read_text())
    final["name"] = "Research and write (work in progress)"
    write(source / "workflows/draft/wf_1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d.json", json.dumps(final))

    report = await run(source, db_url)

    assert counts(report)["workflows"] == (5, 3, 0, 2, 2)
    row = await pg.fetchrow("SELECT name, status, version FROM workflow.workflows WHERE workflow_id = $1", FINAL_WF)
    assert tuple(row) == ("Research and write (work in progress)", "draft", 1)
    before = await snapshot(pg)
    assert counts(await run(source, db_url))["workflows"] == (5, 0, 3, 2, 2)
    assert await snapshot(pg) == before


async def test_a_workflow_deleted_in_echoai_stays_deleted(source: Path, db_url: str, pg: asyncpg.Connection) -> None:
    await run(source, db_url)
    await pg.execute("UPDATE workflow.workflows SET deleted_at = now() WHERE workflow_id = $1", DRAFT_WF)

    report = await run(source, db_url)

    assert "deleted in EchoAI" in skipped(report)[DRAFT]
    assert counts(report)["workflows"] == (4, 0, 1, 3, 1)


async def test_a_session_continued_in_echoai_is_not_overwritten(
    source: Path, db_url: str, pg: asyncpg.Connection
) -> None:
    await run(source, db_url)
    # What the session service does on POST /sessions/{id}/messages (one statement, seq = count + 1).
    await pg.execute(
        """WITH n AS (
               UPDATE session.chat_sessions SET message_count = message_count + 1, version = version + 1,
                   content_bytes = content_bytes + 12
               WHERE session_id = $1 RETURNING session_id, message_count)
           INSERT INTO session.messages (session_id, seq, message_id, role, content, created_at)
           SELECT session_id, message_count, gen_random_uuid(), 'user', 'and the sun?', '2026-02-01T00:00:00Z'
           FROM n""",
        FIRST_CHAT,
    )
    edit(source / CHAT, lambda d: d.update(title="First chat, renamed"))
    before = await snapshot(pg)

    report = await run(source, db_url)

    assert "1 message(s) added in EchoAI" in skipped(report)[CHAT]
    assert await snapshot(pg) == before


async def test_a_changed_session_is_replaced_whole_with_its_version_bumped(
    source: Path, db_url: str, pg: asyncpg.Connection
) -> None:
    await run(source, db_url)
    first = await pg.fetchval("SELECT version FROM session.chat_sessions WHERE session_id = $1", FIRST_CHAT)
    edit(source / CHAT, lambda d: d["messages"].append({"role": "user", "content": "More?"}))

    report = await run(source, db_url)

    assert counts(report)["sessions"] == (2, 1, 1, 0, 2)
    row = await pg.fetchrow("SELECT * FROM session.chat_sessions WHERE session_id = $1", FIRST_CHAT)
    messages = await messages_of(pg, FIRST_CHAT)
    assert [m["seq"] for m in messages] == [1, 2, 3]
    # No timestamp: it takes its predecessor's time.
    assert messages[2]["created_at"] == messages[1]["created_at"]
    assert (row["message_count"], row["version"]) == (3, first + 1)


async def test_a_session_deleted_and_migrated_again_never_reuses_a_version(
    source: Path, db_url: str, pg: asyncpg.Connection
) -> None:
    await run(source, db_url)
    first = await pg.fetchval("SELECT version FROM session.chat_sessions WHERE session_id = $1", FIRST_CHAT)
    await pg.execute("DELETE FROM session.chat_sessions WHERE session_id = $1", FIRST_CHAT)

    report = await run(source, db_url)

    assert {f.path: f.outcome for f in report.files}[CHAT] == "created"
    again = await pg.fetchval("SELECT version FROM session.chat_sessions WHERE session_id = $1", FIRST_CHAT)
    assert again > first


BAD_FILES: dict[str, str | bytes] = {
    "agents/no_name.json": '{"agent_id": "agt_x", "role": "Nobody"}',
    "agents/array.json": "[1, 2]",
    "agents/latin1.json": b'{"name": "Caf\xe9"}',
    "agents/dup.json": '{"agent_id": "agt_reviewer", "name": "Reviewer again"}',
    "workflows/draft/twins.json": json.dumps(
        {"name": "Twins", "agents": [{"agent_id": "agt_a", "name": "A"}, {"agent_id": "agt_a", "name": "B"}]}
    ),
    "workflows/loose.json": '{"name": "No status"}',
    "tools/no_url.json": '{"name": "Broken API", "tool_type": "api", "definition": {}}',
    "sessions/odd_context.json": '{"title": "x", "context_type": "spaceship"}',
    "sessions/bad_role.json": '{"title": "x", "messages": [{"role": "robot", "content": "beep"}]}',
    "sessions/nul.json": '{"title": "x", "messages": [{"role": "user", "content": "a\\u0000b"}]}',
}


async def test_bad_files_are_skipped_with_a_reason_and_nothing_else_stops(
    source: Path, db_url: str, pg: asyncpg.Connection
) -> None:
    for rel, content in BAD_FILES.items():
        write(source / rel, content)
    write(source / "notes/readme.json", "{}")

    report = await run(source, db_url)

    reasons = skipped(report)
    assert set(BAD_FILES) <= set(reasons)
    assert "name: Field required" in reasons["agents/no_name.json"]
    assert "not an object" in reasons["agents/array.json"]
    assert reasons["agents/latin1.json"] == "not UTF-8 text"
    assert reasons["agents/dup.json"].startswith("duplicate: agents/agt_reviewer.json")
    assert "same agent as definition.agents.0" in reasons["workflows/draft/twins.json"]
    assert reasons["workflows/loose.json"].startswith("no status")
    assert "definition.url" in reasons["tools/no_url.json"]
    assert "context_type" in reasons["sessions/odd_context.json"]
    assert "messages.0.role" in reasons["sessions/bad_role.json"]
    assert "NUL" in reasons["sessions/nul.json"]
    assert report.ignored == ["notes/readme.json"]
    # The good files went in all the same.
    assert [c[1] for c in counts(report).values()] == [3, 2, 2, 2]
    assert await pg.fetchval("SELECT count(*) FROM workflow.agents WHERE user_id = $1", ADMIN) == 3
