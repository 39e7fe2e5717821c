"""Sessions written through the session service's repository, compared before written.

The session repository's `import_session` writes a whole session under a given ID: the session row, then its
messages replaced (one row each, seq = position), under the session row's lock. It keeps the session invariants
(services/session/models.py): seq 1..`message_count` without a gap, `content_bytes` the sum of the contents,
`version` going up with every change (cache entries are keyed by it, so no reader gets an old body).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.session.models import ChatSession
from services.session.repository import ImportedSession, SessionRepository
from tools.migrate_json.convert import SessionRecord, Skip
from tools.migrate_json.report import Outcome

COMPARED = ("title", "context_type", "context_id", "variables", "selected_tool_ids", "run_ids", "messages")


def _as_stored(record: SessionRecord) -> dict[str, Any]:
    return {key: getattr(record, key) for key in COMPARED}


class SessionStore:
    def __init__(self, session: AsyncSession, owner: uuid.UUID):
        self.owner = owner
        self.repo = SessionRepository(session)

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
