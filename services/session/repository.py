"""All SQL of the session service.

Session and message objects are built as JSON by PostgreSQL (`json_build_object(...)::text`) and served as
they come: the stored message objects already have the public shape, so a session with thousands of messages
is never decoded and re-encoded in Python. Every change is one statement that also bumps `version`; nothing
is read, modified in Python and written back.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession


def _iso(expr: str) -> str:
    # The colons of the format sit between word characters, so SQLAlchemy does not take them for parameters.
    return f"""to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _session_json(*, with_messages: bool) -> str:
    fields = [
        "'session_id', session_id",
        "'title', title",
        "'context_type', context_type",
        "'context_id', context_id",
        "'variables', variables",
        "'selected_tool_ids', selected_tool_ids",
        "'run_ids', run_ids",
        *(["'messages', messages"] if with_messages else []),
        "'message_count', message_count",
        f"'created_at', {_iso('created_at')}",
        f"'updated_at', {_iso('updated_at')}",
    ]
    return f"json_build_object({', '.join(fields)})::text"


SESSION_FULL = _session_json(with_messages=True)
SESSION_SUMMARY = _session_json(with_messages=False)
OWNED = "session_id = :sid AND user_id = :uid"
BUMP = "version = version + 1, updated_at = now()"

# The next seq is computed in the same UPDATE (SET expressions see the old row), and READ COMMITTED re-reads
# the row after waiting for a concurrent appender: concurrent appends all land, seq gap-free.
_NEW_MESSAGE = f"""jsonb_build_array(jsonb_build_object(
    'message_id', CAST(:mid AS text), 'seq', message_count + 1, 'role', CAST(:role AS text),
    'content', CAST(:content AS text), 'metadata', CAST(:metadata AS jsonb), 'run_id', CAST(:run_id AS text),
    'created_at', {_iso("clock_timestamp()")}))"""
_APPEND_SET = f"""message_count = message_count + 1, content_bytes = content_bytes + :nbytes, {BUMP},
    messages = messages || {_NEW_MESSAGE}"""

_CREATE = text(f"""
INSERT INTO session.chat_sessions (session_id, user_id, title, context_type, context_id, variables, selected_tool_ids)
VALUES (:sid, :uid, :title, :ctype, :cid, CAST(:variables AS jsonb), CAST(:tools AS jsonb))
RETURNING version, {SESSION_FULL} AS body""")
# A session's JSON size, estimated: its contents plus about 256 bytes of ids, keys and stamps per message.
_SIZE_ESTIMATE = "content_bytes + 256 * message_count"
# The current version, and the body too when the session is small enough to be cheaper to read than to cache.
_PROBE = text(f"""SELECT version, CASE WHEN {_SIZE_ESTIMATE} <= :inline THEN {SESSION_FULL} END AS body
FROM session.chat_sessions WHERE {OWNED}""")
_FULL = text(f"SELECT version, {SESSION_FULL} AS body FROM session.chat_sessions WHERE {OWNED}")
_DELETE = text(f"DELETE FROM session.chat_sessions WHERE {OWNED} RETURNING version")
_TITLE = text(f"""UPDATE session.chat_sessions SET title = :title, {BUMP} WHERE {OWNED}
RETURNING version, {SESSION_FULL} AS body""")
_CONTEXT = text(f"""UPDATE session.chat_sessions SET context_type = :ctype, context_id = :cid, {BUMP} WHERE {OWNED}
RETURNING version, {SESSION_FULL} AS body""")
_VARIABLES = text(f"""UPDATE session.chat_sessions
SET variables = session.jsonb_merge_patch(variables, CAST(:patch AS jsonb)), {BUMP} WHERE {OWNED}
RETURNING version, variables::text AS body""")
_TOOLS = text(f"""UPDATE session.chat_sessions SET selected_tool_ids = CAST(:tools AS jsonb), {BUMP} WHERE {OWNED}
RETURNING version, selected_tool_ids::text AS body""")
# Unchanged (and no version bump) when the run is already recorded.
_RECORD_RUN = text(f"""UPDATE session.chat_sessions
SET run_ids = run_ids || jsonb_build_array(CAST(:run_id AS text)), {BUMP}
WHERE {OWNED} AND NOT run_ids @> jsonb_build_array(CAST(:run_id AS text))
RETURNING version, run_ids::text AS body""")
_RUN_IDS = text(f"SELECT version, run_ids::text AS body FROM session.chat_sessions WHERE {OWNED}")
_APPEND = text(f"""UPDATE session.chat_sessions SET {_APPEND_SET}
WHERE {OWNED} AND message_count < :max_messages AND content_bytes + :nbytes <= :max_bytes
RETURNING version, (messages -> -1)::text AS body""")
_SIZE = text(f"SELECT message_count, content_bytes FROM session.chat_sessions WHERE {OWNED}")
# A run's outcome lands once however often the broker delivers it: the row lock serialises two deliveries
# and the second one's re-checked WHERE sees the first one's message.
_APPEND_RUN_OUTCOME = text(f"""UPDATE session.chat_sessions SET {_APPEND_SET},
    run_ids = CASE WHEN run_ids @> jsonb_build_array(CAST(:run_id AS text)) THEN run_ids
                   ELSE run_ids || jsonb_build_array(CAST(:run_id AS text)) END
WHERE {OWNED}
  AND NOT messages @> jsonb_build_array(
      jsonb_build_object('run_id', CAST(:run_id AS text), 'role', CAST(:role AS text)))
RETURNING version""")
# Only the latest message may go, so seq stays gap-free (`messages[i].seq == i + 1`).
_DELETE_LATEST = text(f"""UPDATE session.chat_sessions
SET messages = messages - (message_count - 1), message_count = message_count - 1,
    content_bytes = content_bytes - octet_length(messages -> -1 ->> 'content'), {BUMP}
WHERE {OWNED} AND message_count > 0 AND messages -> -1 ->> 'message_id' = :mid
RETURNING version""")
_HAS_MESSAGE = text(f"""SELECT messages @> jsonb_build_array(jsonb_build_object('message_id', CAST(:mid AS text)))
FROM session.chat_sessions WHERE {OWNED}""")
# seq is gap-free, so the page after `after_seq` is the index slice [after_seq, after_seq + limit - 1].
_PAGE_ITEMS = """jsonb_path_query_array(messages, '$[$from to $to]',
    jsonb_build_object('from', CAST(:after AS integer), 'to', CAST(:after AS integer) + CAST(:limit AS integer) - 1)
)::text"""
_PAGE = text(f"SELECT version, message_count, {_PAGE_ITEMS} AS items FROM session.chat_sessions WHERE {OWNED}")
_PROBE_PAGE = text(f"""SELECT version, message_count,
    CASE WHEN {_SIZE_ESTIMATE} <= :inline THEN {_PAGE_ITEMS} END AS items
FROM session.chat_sessions WHERE {OWNED}""")
_TOUCH = text(f"UPDATE session.chat_sessions SET {BUMP} WHERE {OWNED} RETURNING version")
_OWNS = text(f"SELECT version FROM session.chat_sessions WHERE {OWNED}")
_CONFIG_COLUMNS = "tool_id, config::text AS config, created_at, updated_at"
_UPSERT_CONFIG = text(f"""INSERT INTO session.session_tool_configs (session_id, tool_id, config)
VALUES (:sid, :tool_id, CAST(:config AS jsonb))
ON CONFLICT (session_id, tool_id) DO UPDATE SET config = EXCLUDED.config, updated_at = now()
RETURNING {_CONFIG_COLUMNS}""")
_DELETE_CONFIG = text(
    "DELETE FROM session.session_tool_configs WHERE session_id = :sid AND tool_id = :tool_id RETURNING 1"
)
_LIST_CONFIGS = text(f"""SELECT {_CONFIG_COLUMNS} FROM session.session_tool_configs
WHERE session_id = :sid AND tool_id > :after ORDER BY tool_id LIMIT :limit""")


@dataclass(frozen=True)
class Versioned:
    """A JSON text rendered by PostgreSQL and the session version it belongs to."""

    version: int
    body: str


@dataclass(frozen=True)
class Probe:
    """The session's current version, with its body when the session is small (else None)."""

    version: int
    body: str | None


@dataclass(frozen=True)
class Page:
    version: int
    message_count: int
    items: str | None  # None from `probe_page` for a session too large to read inline


@dataclass(frozen=True)
class SessionRow:
    body: str
    updated_at: datetime
    session_id: uuid.UUID


@dataclass(frozen=True)
class ToolConfigRow:
    tool_id: str
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


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


class SessionRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def _versioned(self, stmt: TextClause, **params: Any) -> Versioned | None:
        row = (await self.session.execute(stmt, params)).one_or_none()
        return Versioned(row.version, row.body) if row else None

    async def create(
        self,
        user_id: uuid.UUID,
        *,
        title: str,
        context_type: str,
        context_id: str | None,
        variables: dict[str, Any],
        selected_tool_ids: list[str],
    ) -> Versioned:
        created = await self._versioned(
            _CREATE,
            sid=uuid.uuid4(),
            uid=user_id,
            title=title,
            ctype=context_type,
            cid=context_id,
            variables=_dumps(variables),
            tools=_dumps(selected_tool_ids),
        )
        assert created is not None
        return created

    async def probe(self, user_id: uuid.UUID, session_id: uuid.UUID, inline_bytes: int) -> Probe | None:
        params = {"sid": session_id, "uid": user_id, "inline": inline_bytes}
        row = (await self.session.execute(_PROBE, params)).one_or_none()
        return Probe(row.version, row.body) if row else None

    async def full(self, user_id: uuid.UUID, session_id: uuid.UUID) -> Versioned | None:
        return await self._versioned(_FULL, sid=session_id, uid=user_id)

    async def list_sessions(
        self,
        user_id: uuid.UUID,
        *,
        limit: int,
        before: tuple[datetime, uuid.UUID] | None,
        context_type: str | None,
        context_id: str | None,
    ) -> list[SessionRow]:
        """Newest activity first (updated_at, then session_id, descending); keyset-paginated."""
        where = ["user_id = :uid"]
        params: dict[str, Any] = {"uid": user_id, "limit": limit}
        if context_type is not None:
            where.append("context_type = :ctype")
            params["ctype"] = context_type
        if context_id is not None:
            where.append("context_id = :cid")
            params["cid"] = context_id
        if before is not None:
            where.append("(updated_at, session_id) < (:before_at, :before_id)")
            params["before_at"], params["before_id"] = before
        stmt = text(
            f"SELECT {SESSION_SUMMARY} AS body, updated_at, session_id FROM session.chat_sessions "
            f"WHERE {' AND '.join(where)} ORDER BY updated_at DESC, session_id DESC LIMIT :limit"
        )
        rows = (await self.session.execute(stmt, params)).all()
        return [SessionRow(r.body, r.updated_at, r.session_id) for r in rows]

    async def delete(self, user_id: uuid.UUID, session_id: uuid.UUID) -> int | None:
        """The deleted session's last version; its tool configs go with it (ON DELETE CASCADE)."""
        return (await self.session.execute(_DELETE, {"sid": session_id, "uid": user_id})).scalar_one_or_none()

    async def set_title(self, user_id: uuid.UUID, session_id: uuid.UUID, title: str) -> Versioned | None:
        return await self._versioned(_TITLE, sid=session_id, uid=user_id, title=title)

    async def set_context(
        self, user_id: uuid.UUID, session_id: uuid.UUID, context_type: str, context_id: str | None
    ) -> Versioned | None:
        return await self._versioned(_CONTEXT, sid=session_id, uid=user_id, ctype=context_type, cid=context_id)

    async def patch_variables(
        self, user_id: uuid.UUID, session_id: uuid.UUID, patch: dict[str, Any]
    ) -> Versioned | None:
        return await self._versioned(_VARIABLES, sid=session_id, uid=user_id, patch=_dumps(patch))

    async def set_tools(self, user_id: uuid.UUID, session_id: uuid.UUID, tool_ids: list[str]) -> Versioned | None:
        return await self._versioned(_TOOLS, sid=session_id, uid=user_id, tools=_dumps(tool_ids))

    async def record_run(
        self, user_id: uuid.UUID, session_id: uuid.UUID, run_id: uuid.UUID
    ) -> tuple[Versioned | None, bool]:
        """(run_ids, changed); (None, False) when there is no such session of this user."""
        params = {"sid": session_id, "uid": user_id, "run_id": str(run_id)}
        changed = await self._versioned(_RECORD_RUN, **params)
        if changed is not None:
            return changed, True
        return await self._versioned(_RUN_IDS, **params), False

    async def append(
        self,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        *,
        role: str,
        content: str,
        metadata: dict[str, Any],
        run_id: uuid.UUID | None,
        max_messages: int,
        max_bytes: int,
    ) -> Versioned | None:
        """The new message; None when the session is missing or full (see `size`)."""
        return await self._versioned(
            _APPEND,
            sid=session_id,
            uid=user_id,
            mid=str(uuid.uuid4()),
            role=role,
            content=content,
            metadata=_dumps(metadata),
            run_id=str(run_id) if run_id else None,
            nbytes=len(content.encode()),
            max_messages=max_messages,
            max_bytes=max_bytes,
        )

    async def size(self, user_id: uuid.UUID, session_id: uuid.UUID) -> tuple[int, int] | None:
        row = (await self.session.execute(_SIZE, {"sid": session_id, "uid": user_id})).one_or_none()
        return (row.message_count, row.content_bytes) if row else None

    async def append_run_outcome(
        self,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        *,
        run_id: uuid.UUID,
        role: str,
        content: str,
        metadata: dict[str, Any],
    ) -> int | None:
        """The new version, or None when the session is gone or this run's message of `role` is already there."""
        params = {
            "sid": session_id,
            "uid": user_id,
            "mid": str(uuid.uuid4()),
            "role": role,
            "content": content,
            "metadata": _dumps(metadata),
            "run_id": str(run_id),
            "nbytes": len(content.encode()),
        }
        return (await self.session.execute(_APPEND_RUN_OUTCOME, params)).scalar_one_or_none()

    async def delete_latest_message(
        self, user_id: uuid.UUID, session_id: uuid.UUID, message_id: uuid.UUID
    ) -> int | None:
        params = {"sid": session_id, "uid": user_id, "mid": str(message_id)}
        return (await self.session.execute(_DELETE_LATEST, params)).scalar_one_or_none()

    async def has_message(self, user_id: uuid.UUID, session_id: uuid.UUID, message_id: uuid.UUID) -> bool | None:
        """None when there is no such session of this user."""
        params = {"sid": session_id, "uid": user_id, "mid": str(message_id)}
        return (await self.session.execute(_HAS_MESSAGE, params)).scalar_one_or_none()

    async def page(
        self, user_id: uuid.UUID, session_id: uuid.UUID, after_seq: int, limit: int, *, inline_bytes: int | None = None
    ) -> Page | None:
        """Messages after `after_seq`; with `inline_bytes`, only for a session no larger than that (a probe)."""
        params: dict[str, Any] = {"sid": session_id, "uid": user_id, "after": after_seq, "limit": limit}
        stmt = _PAGE
        if inline_bytes is not None:
            stmt, params["inline"] = _PROBE_PAGE, inline_bytes
        row = (await self.session.execute(stmt, params)).one_or_none()
        return Page(row.version, row.message_count, row.items) if row else None

    async def touch(self, user_id: uuid.UUID, session_id: uuid.UUID) -> int | None:
        """Bump the session's version (it changed through a side table); None when not this user's session."""
        return (await self.session.execute(_TOUCH, {"sid": session_id, "uid": user_id})).scalar_one_or_none()

    async def owns(self, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
        return (await self.session.execute(_OWNS, {"sid": session_id, "uid": user_id})).first() is not None

    async def upsert_tool_config(self, session_id: uuid.UUID, tool_id: str, config: dict[str, Any]) -> ToolConfigRow:
        params = {"sid": session_id, "tool_id": tool_id, "config": _dumps(config)}
        row = (await self.session.execute(_UPSERT_CONFIG, params)).one()
        return ToolConfigRow(row.tool_id, json.loads(row.config), row.created_at, row.updated_at)

    async def delete_tool_config(self, session_id: uuid.UUID, tool_id: str) -> bool:
        return (await self.session.execute(_DELETE_CONFIG, {"sid": session_id, "tool_id": tool_id})).first() is not None

    async def list_tool_configs(self, session_id: uuid.UUID, *, after: str, limit: int) -> list[ToolConfigRow]:
        rows = (await self.session.execute(_LIST_CONFIGS, {"sid": session_id, "after": after, "limit": limit})).all()
        return [ToolConfigRow(r.tool_id, json.loads(r.config), r.created_at, r.updated_at) for r in rows]

    async def import_session(self, s: ImportedSession) -> int | None:
        """Write a whole session under its given ID (the legacy importer); the row's version, or None when the
        session_id belongs to another user."""
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
