"""The migration that moves messages from the session row's JSONB array into `session.messages`, run up and down
on a database that holds sessions: every session reads back identical on both sides."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest

from shared import dbadmin, migrations
from tests.integration.session.conftest import read_whole

pytestmark = pytest.mark.integration

BEFORE = "82efc0c2057f"  # messages embedded as a JSONB array
ISO = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
# How the service read a whole session at the previous revision.
OLD_READ = f"""SELECT json_build_object('session_id', session_id, 'title', title, 'context_type', context_type,
    'context_id', context_id, 'variables', variables, 'selected_tool_ids', selected_tool_ids, 'run_ids', run_ids,
    'messages', messages, 'message_count', message_count, 'created_at', {ISO.format("created_at")},
    'updated_at', {ISO.format("updated_at")})::text AS body, version, content_bytes, messages::text AS messages
FROM session.chat_sessions WHERE session_id = $1"""


def _message(seq: int, role: str, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "message_id": str(uuid.uuid4()),
        "seq": seq,
        "role": role,
        "content": content,
        "metadata": extra.get("metadata", {}),
        "run_id": extra.get("run_id"),
        "created_at": extra.get("created_at", f"2026-11-2{seq % 7}T10:{seq % 60:02d}:00.{seq:06d}Z"),
    }


def _sessions() -> list[tuple[uuid.UUID, uuid.UUID, list[dict[str, Any]]]]:
    owner = uuid.uuid4()
    run = str(uuid.uuid4())
    small = [
        _message(1, "user", "How do tides work? 🌊", metadata={"client": {"app": "web", "n": [1, 2.5, None]}}),
        _message(2, "assistant", "The moon's pull.", run_id=run, metadata={"source": "run", "status": "completed"}),
        _message(3, "system", 'Ünïcödé and "quotes" and a \\ backslash', created_at="2026-01-30T10:00:00.000000Z"),
        _message(4, "tool", ""),
    ]
    long = [_message(i, "user" if i % 2 else "assistant", f"message {i} " + "x" * (i % 97)) for i in range(1, 1201)]
    return [(uuid.uuid4(), owner, []), (uuid.uuid4(), owner, small), (uuid.uuid4(), uuid.uuid4(), long)]


async def _seed(dsn: str, sessions: list[tuple[uuid.UUID, uuid.UUID, list[dict[str, Any]]]]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for i, (sid, owner, messages) in enumerate(sessions):
            await conn.execute(
                """INSERT INTO session.chat_sessions (session_id, user_id, title, context_type, context_id, variables,
                    selected_tool_ids, run_ids, messages, message_count, content_bytes, version, created_at, updated_at)
                VALUES ($1, $2, $3, 'workflow', 'wf-1', '{"tone": "plain"}', '["t1"]', $4::jsonb, $5::jsonb, $6, $7, $8,
                    '2026-11-01T09:00:00.123456Z', '2026-11-02T09:00:00.654321Z')""",
                sid,
                owner,
                f"Session {i}",
                json.dumps(sorted({m["run_id"] for m in messages if m["run_id"]})),
                json.dumps(messages),
                len(messages),
                sum(len(m["content"].encode()) for m in messages),
                40 + i,
            )
    finally:
        await conn.close()


async def _old_reads(dsn: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {sid: dict(await conn.fetchrow(OLD_READ, sid)) for sid in ids}
    finally:
        await conn.close()


def _new_reads(url: str, sessions: list[tuple[uuid.UUID, uuid.UUID, list[dict[str, Any]]]]) -> dict[uuid.UUID, Any]:
    read = asyncio.run(read_whole(url, [(sid, owner) for sid, owner, _ in sessions]))
    return {sid: (version, json.loads(body)) for sid, (version, body) in read.items()}


def test_messages_move_to_rows_and_back_unchanged(scratch_url: str) -> None:
    dsn = dbadmin.asyncpg_dsn(scratch_url)
    sessions = _sessions()
    ids = [sid for sid, _, _ in sessions]
    migrations.upgrade("session", BEFORE, scratch_url)
    asyncio.run(_seed(dsn, sessions))
    before = asyncio.run(_old_reads(dsn, ids))
    for sid, _, messages in sessions:
        assert json.loads(before[sid]["body"])["messages"] == messages

    migrations.upgrade("session", "head", scratch_url)
    after = _new_reads(scratch_url, sessions)
    for sid in ids:
        version, body = after[sid]
        assert body == json.loads(before[sid]["body"])
        assert version == before[sid]["version"]  # nothing a reader sees changed, so cached bodies stay valid

    migrations.downgrade("session", BEFORE, scratch_url)
    again = asyncio.run(_old_reads(dsn, ids))
    for sid, _, messages in sessions:
        assert json.loads(again[sid]["messages"]) == messages
        assert json.loads(again[sid]["body"]) == json.loads(before[sid]["body"])
        assert (again[sid]["version"], again[sid]["content_bytes"]) == (
            before[sid]["version"],
            before[sid]["content_bytes"],
        )

    # And up again from there, as a redeploy after a rollback would.
    migrations.upgrade("session", "head", scratch_url)
    assert {sid: body for sid, (_, body) in _new_reads(scratch_url, sessions).items()} == {
        sid: json.loads(before[sid]["body"]) for sid in ids
    }
