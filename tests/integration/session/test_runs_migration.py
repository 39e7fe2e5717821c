"""The migration that moves run ids from the session row's JSONB array into `session.session_runs`, run up and
down on a database that holds sessions: every session reads back identical on both sides, runs in their order."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from services.session.repository import SessionRepository
from services.session.schemas import SessionOut
from shared import dbadmin, migrations
from tests.integration.session.conftest import read_whole

pytestmark = pytest.mark.integration

BEFORE = "57a5fa1c4db0"  # messages as rows, run ids still a JSONB array


def _sessions() -> list[tuple[uuid.UUID, uuid.UUID, list[str]]]:
    owner = uuid.uuid4()
    # Not in any sorted order: the order is the one the runs were listed in, and must survive both ways.
    many = [str(uuid.uuid4()) for _ in range(2000)]
    return [(uuid.uuid4(), owner, []), (uuid.uuid4(), owner, many[:3]), (uuid.uuid4(), uuid.uuid4(), many)]


async def _seed(dsn: str, sessions: list[tuple[uuid.UUID, uuid.UUID, list[str]]]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for i, (sid, owner, runs) in enumerate(sessions):
            await conn.execute(
                """INSERT INTO session.chat_sessions (session_id, user_id, title, run_ids, message_count, version,
                    created_at, updated_at)
                VALUES ($1, $2, $3, $4::jsonb, 1, $5, '2026-11-01T09:00:00.123456Z', '2026-11-02T09:00:00.654321Z')""",
                sid,
                owner,
                f"Session {i}",
                json.dumps(runs),
                70 + i,
            )
            await conn.execute(
                """INSERT INTO session.messages (session_id, seq, message_id, role, content, run_id)
                VALUES ($1, 1, $2, 'user', 'hello', $3)""",
                sid,
                uuid.uuid4(),
                uuid.UUID(runs[0]) if runs else None,
            )
    finally:
        await conn.close()


async def _arrays(dsn: str) -> dict[uuid.UUID, tuple[list[str], int]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT session_id, run_ids::text AS runs, version FROM session.chat_sessions")
        return {r["session_id"]: (json.loads(r["runs"]), r["version"]) for r in rows}
    finally:
        await conn.close()


def _reads(url: str, sessions: list[tuple[uuid.UUID, uuid.UUID, list[str]]]) -> dict[uuid.UUID, Any]:
    read = asyncio.run(read_whole(url, [(sid, owner) for sid, owner, _ in sessions]))
    return {sid: (version, SessionOut.model_validate_json(body)) for sid, (version, body) in read.items()}


async def _list_another(url: str, owner: uuid.UUID, sid: uuid.UUID) -> list[uuid.UUID]:
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as db:
            run = uuid.uuid4()
            listed, changed = await SessionRepository(db).record_run(owner, sid, run)
            await db.commit()
            assert changed and listed is not None
            runs = [uuid.UUID(r) for r in json.loads(listed.body)]
            assert runs[-1] == run
            return runs
    finally:
        await engine.dispose()


def test_run_ids_move_to_rows_and_back_unchanged(scratch_url: str) -> None:
    dsn = dbadmin.asyncpg_dsn(scratch_url)
    sessions = _sessions()
    migrations.upgrade("session", BEFORE, scratch_url)
    asyncio.run(_seed(dsn, sessions))
    before = asyncio.run(_arrays(dsn))

    migrations.upgrade("session", "head", scratch_url)
    after = _reads(scratch_url, sessions)
    for sid, _, runs in sessions:
        version, session = after[sid]
        assert [str(r) for r in session.run_ids] == runs
        assert version == before[sid][1]  # nothing a reader sees changed, so cached bodies stay valid
    # A run listed after the move comes after the moved ones.
    sid, owner, runs = sessions[2]
    listed_later = asyncio.run(_list_another(scratch_url, owner, sid))[-1]

    migrations.downgrade("session", BEFORE, scratch_url)
    again = asyncio.run(_arrays(dsn))
    assert again[sid][0] == [*runs, str(listed_later)]
    for other, _, other_runs in sessions[:2]:
        assert again[other][0] == other_runs

    # And up again from there, as a redeploy after a rollback would.
    migrations.upgrade("session", "head", scratch_url)
    final = _reads(scratch_url, sessions)
    assert [str(r) for r in final[sessions[2][0]][1].run_ids] == again[sessions[2][0]][0]
