"""Sessions written through the session service's repository, compared before written.

The repository reads a session (`full`) but has no statement that writes a whole session under a given ID with
its messages, so `ImportingSessionRepository` adds that one statement beside the others. It keeps the session
invariants (services/session/models.py): `messages[i].seq == i + 1`, `message_count` and `content_bytes` match
the array, `version` goes up with every change (cache entries are keyed by it, so no reader gets an old body).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.session.models import ChatSession
from services.session.repository import SessionRepository
from tools.migrate_json.convert import SessionRecord, Skip
from tools.migrate_json.report import Outcome


@dataclass(frozen=True)
class ImportedSession:
    session_id: uuid.UUID
    user_id: uuid.UUID
    title: str
    context_type: str
    context_id: str | None
    variables: dict[str, Any]
    selected_tool_ids: list[str]
    run_ids: list[str]
    messages: list[dict[str, Any]]
    content_bytes: int
    created_at: datetime
    updated_at: datetime


# Insert, or replace a row of the same owner whole; another owner's row is left alone (no row returned).
# Cache entries are keyed by (session_id, version), and unlike the service's random IDs a legacy ID comes back
# when a deleted session is migrated again (or the same tree goes into another database sharing the Memcached):
# a new row's version therefore starts at the clock in microseconds, never at a number an old entry may still
# hold. A replace goes up by one, as every other change of a session does.
_IMPORT = text("""
INSERT INTO session.chat_sessions AS s (session_id, user_id, title, context_type, context_id, variables,
    selected_tool_ids, run_ids, messages, message_count, content_bytes, created_at, updated_at, version)
VALUES (:sid, :uid, :title, :ctype, :cid, CAST(:variables AS jsonb), CAST(:tools AS jsonb), CAST(:run_ids AS jsonb),
    CAST(:messages AS jsonb), jsonb_array_length(CAST(:messages AS jsonb)), :nbytes, :created_at, :updated_at,
    (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
ON CONFLICT (session_id) DO UPDATE SET title = EXCLUDED.title, context_type = EXCLUDED.context_type,
    context_id = EXCLUDED.context_id, variables = EXCLUDED.variables, selected_tool_ids = EXCLUDED.selected_tool_ids,
    run_ids = EXCLUDED.run_ids, messages = EXCLUDED.messages, message_count = EXCLUDED.message_count,
    content_bytes = EXCLUDED.content_bytes, created_at = EXCLUDED.created_at, updated_at = now(),
    version = s.version + 1
WHERE s.user_id = EXCLUDED.user_id
RETURNING s.version""")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class ImportingSessionRepository(SessionRepository):
    """The session repository plus the one statement an importer needs: a whole session with a given ID."""

    async def import_session(self, s: ImportedSession) -> int | None:
        """The row's version; None when the session_id belongs to another user."""
        params = {
            "sid": s.session_id,
            "uid": s.user_id,
            "title": s.title,
            "ctype": s.context_type,
            "cid": s.context_id,
            "variables": _dumps(s.variables),
            "tools": _dumps(s.selected_tool_ids),
            "run_ids": _dumps(s.run_ids),
            "messages": _dumps(s.messages),
            "nbytes": s.content_bytes,
            "created_at": s.created_at,
            "updated_at": s.updated_at,
        }
        return (await self.session.execute(_IMPORT, params)).scalar_one_or_none()


COMPARED = ("title", "context_type", "context_id", "variables", "selected_tool_ids", "run_ids", "messages")


def _as_stored(record: SessionRecord) -> dict[str, Any]:
    return {key: getattr(record, key) for key in COMPARED}


class SessionStore:
    def __init__(self, session: AsyncSession, owner: uuid.UUID):
        self.owner = owner
        self.repo = ImportingSessionRepository(session)

    async def session(self, record: SessionRecord) -> Outcome:
        current = await self.repo.full(self.owner, record.session_id)
        if current is not None:
            stored = json.loads(current.body)
            if {key: stored[key] for key in COMPARED} == _as_stored(record):
                return "unchanged"
            legacy_ids = {m["message_id"] for m in record.messages}
            added = [m for m in stored["messages"] if m["message_id"] not in legacy_ids]
            if added:
                # Overwriting would drop what people wrote in EchoAI since the first migration.
                raise Skip(
                    f"session {record.session_id} has {len(added)} message(s) added in EchoAI since it was migrated; "
                    "left as it is (delete it in EchoAI to migrate the legacy file again)"
                )
        imported = ImportedSession(
            session_id=record.session_id,
            user_id=self.owner,
            title=record.title,
            context_type=record.context_type,
            context_id=record.context_id,
            variables=record.variables,
            selected_tool_ids=record.selected_tool_ids,
            run_ids=record.run_ids,
            messages=record.messages,
            content_bytes=record.content_bytes,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
        if await self.repo.import_session(imported) is None:
            raise Skip(
                f"session {record.session_id} belongs to another account (migrated earlier for another owner?); "
                "migrate this tree with that owner's --owner, or change the ID in the file"
            )
        return "created" if current is None else "updated"


async def count_sessions(session: AsyncSession, owner: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(ChatSession).where(ChatSession.user_id == owner)
    return int((await session.execute(stmt)).scalar_one())
