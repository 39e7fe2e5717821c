"""All SQL of the session service.

Sessions and messages come out of PostgreSQL as JSON text (`json_build_object(...)::text`), ready to be checked
against the response models and sent: a session with thousands of messages is never turned into Python objects
row by row. A whole session is one query (the session row, its messages aggregated in seq order over the
primary key).

Locking: every write of a session's messages holds its session row's lock. An append takes it with the `UPDATE`
that also computes the next seq; writes that must look at the messages first (take back the latest, store a
run's outcome once, replace an imported session) take it with `SELECT ... FOR UPDATE` and then run their
statements, each of which sees everything committed before it (READ COMMITTED takes a snapshot per statement).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, TextClause, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.session.models import ChatSession
from shared.db import DriverStatement, driver_connection
from shared.pagination import Keyset, older_than


def _iso(expr: str) -> str:
    # The colons of the format sit between word characters, so SQLAlchemy does not take them for parameters.
    return f"""to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


MESSAGE_JSON = f"""json_build_object('message_id', m.message_id, 'seq', m.seq, 'role', m.role,
    'content', m.content, 'metadata', m.metadata, 'run_id', m.run_id, 'created_at', {_iso("m.created_at")})"""
# A session's messages in seq order; `json_agg` over the primary-key range of the session.
_ALL_MESSAGES = f"""(SELECT coalesce(json_agg({MESSAGE_JSON} ORDER BY m.seq), '[]'::json)
    FROM session.messages m WHERE m.session_id = s.session_id)"""


# A session's run ids in the order they were listed.
_RUN_IDS_JSON = """(SELECT coalesce(json_agg(r.run_id ORDER BY r.position), '[]'::json)
    FROM session.session_runs r WHERE r.session_id = s.session_id)"""


def _session_json(messages: str | None) -> str:
    fields = [
        "'session_id', s.session_id",
        "'title', s.title",
        "'context_type', s.context_type",
        "'context_id', s.context_id",
        "'variables', s.variables",
        "'selected_tool_ids', s.selected_tool_ids",
        f"'run_ids', {_RUN_IDS_JSON}",
        *([f"'messages', {messages}"] if messages else []),
        "'message_count', s.message_count",
        f"'created_at', {_iso('s.created_at')}",
        f"'updated_at', {_iso('s.updated_at')}",
    ]
    return f"json_build_object({', '.join(fields)})::text"


SESSION_FULL = _session_json(_ALL_MESSAGES)
SESSION_SUMMARY = _session_json(None)
OWNED = "s.session_id = :sid AND s.user_id = :uid"
BUMP = "version = s.version + 1, updated_at = now()"

_CREATE = text(f"""
INSERT INTO session.chat_sessions AS s (session_id, user_id, title, context_type, context_id, variables,
    selected_tool_ids)
VALUES (:sid, :uid, :title, :ctype, :cid, CAST(:variables AS jsonb), CAST(:tools AS jsonb))
RETURNING s.version, {_session_json("'[]'::json")} AS body""")
# A session's JSON size, estimated: its contents plus about 256 bytes of ids, keys and stamps per message.
_SIZE_ESTIMATE = "s.content_bytes + 256 * s.message_count"
# The current version, and the body too when the session is small enough to be cheaper to read than to cache
# (the messages are only aggregated when the CASE takes that branch).
_PROBE = text(f"""SELECT s.version, CASE WHEN {_SIZE_ESTIMATE} <= :inline THEN {SESSION_FULL} END AS body
FROM session.chat_sessions s WHERE {OWNED}""")
_FULL = text(f"SELECT s.version, {SESSION_FULL} AS body FROM session.chat_sessions s WHERE {OWNED}")
_LOCK = text(f"SELECT s.message_count FROM session.chat_sessions s WHERE {OWNED} FOR UPDATE")
_DELETE = text(f"DELETE FROM session.chat_sessions s WHERE {OWNED} RETURNING s.version")
_TITLE = text(f"UPDATE session.chat_sessions s SET title = :title, {BUMP} WHERE {OWNED} RETURNING s.version")
_CONTEXT = text(f"""UPDATE session.chat_sessions s SET context_type = :ctype, context_id = :cid, {BUMP}
WHERE {OWNED} RETURNING s.version""")
_VARIABLES = text(f"""UPDATE session.chat_sessions s
SET variables = session.jsonb_merge_patch(s.variables, CAST(:patch AS jsonb)), {BUMP} WHERE {OWNED}
RETURNING s.version, s.variables::text AS body""")
_TOOLS = text(f"""UPDATE session.chat_sessions s SET selected_tool_ids = CAST(:tools AS jsonb), {BUMP}
WHERE {OWNED} RETURNING s.version, s.selected_tool_ids::text AS body""")
# Whether the run is listed on the session `s` already, and the INSERT that lists it at the position the CTE `n`
# took from `run_count` (shared by listing a run and by appending a run's outcome, which lists it too).
_RUN_LISTED = """EXISTS (SELECT 1 FROM session.session_runs r
        WHERE r.session_id = s.session_id AND r.run_id = CAST(:run_id AS uuid))"""
_LIST_RUN = """INSERT INTO session.session_runs (session_id, run_id, position)
    SELECT n.session_id, CAST(:run_id AS uuid), n.run_count FROM n
    ON CONFLICT (session_id, run_id) DO NOTHING"""
# Listing a run writes one row: the UPDATE takes the session row's lock and the next position (as an append takes
# the next seq), the INSERT writes the run. Nothing changes when the run is already listed.
_RECORD_RUN = text(f"""WITH n AS (
    UPDATE session.chat_sessions s SET run_count = s.run_count + 1, {BUMP}
    WHERE {OWNED} AND NOT {_RUN_LISTED}
    RETURNING s.session_id, s.run_count, s.version)
{_LIST_RUN}
RETURNING (SELECT version FROM n)""")
_RUN_IDS = text(f"SELECT s.version, {_RUN_IDS_JSON}::text AS body FROM session.chat_sessions s WHERE {OWNED}")

_INSERT_MESSAGE = """INSERT INTO session.messages AS m (session_id, seq, message_id, role, content, metadata, run_id,
    created_at)
SELECT n.session_id, n.message_count, CAST(:mid AS uuid), CAST(:role AS text), CAST(:content AS text),
    CAST(:metadata AS jsonb), CAST(:run_id AS uuid), clock_timestamp()
FROM n"""
# One statement, one round trip: the UPDATE takes the session row's lock and the next seq (SET expressions see
# the old row; a concurrent appender waits for the lock and then re-reads the row), the INSERT writes the message.
# The hottest statement of the service, so it goes to asyncpg directly (`shared.db.DriverStatement`).
_APPEND = DriverStatement.of(
    text(f"""WITH n AS (
    UPDATE session.chat_sessions s
    SET message_count = s.message_count + 1, content_bytes = s.content_bytes + :nbytes, {BUMP}
    WHERE {OWNED} AND s.message_count < :max_messages AND s.content_bytes + :nbytes <= :max_bytes
    RETURNING s.session_id, s.message_count, s.version, {_SIZE_ESTIMATE} - :nbytes - 256 AS size_before)
{_INSERT_MESSAGE}
RETURNING (SELECT version FROM n) AS version, (SELECT size_before FROM n) AS size_before,
    {MESSAGE_JSON}::text AS body""")
)
_SIZE = text(f"SELECT s.message_count, s.content_bytes FROM session.chat_sessions s WHERE {OWNED}")
# Run after `_LOCK`: the NOT EXISTS then sees a concurrent delivery's message (it committed before we got the
# lock), so a run's outcome lands once however often the broker delivers it.
_APPEND_RUN_OUTCOME = text(f"""WITH n AS (
    UPDATE session.chat_sessions s
    SET message_count = s.message_count + 1, content_bytes = s.content_bytes + :nbytes, {BUMP},
        run_count = s.run_count + CASE WHEN {_RUN_LISTED} THEN 0 ELSE 1 END
    WHERE {OWNED} AND NOT EXISTS (
        SELECT 1 FROM session.messages m
        WHERE m.session_id = s.session_id AND m.run_id = CAST(:run_id AS uuid) AND m.role = CAST(:role AS text))
    RETURNING s.session_id, s.message_count, s.run_count, s.version),
-- The run is listed too, if it was not (its send lists it, but that executor may have stopped first).
listed AS ({_LIST_RUN})
{_INSERT_MESSAGE}
RETURNING (SELECT version FROM n)""")
# Run after `_LOCK` (which gave the latest seq): only the latest message may go, so seq stays gap-free.
_DELETE_LATEST = text(f"""WITH d AS (
    DELETE FROM session.messages m WHERE m.session_id = :sid AND m.seq = :seq AND m.message_id = :mid
    RETURNING octet_length(m.content) AS nbytes)
UPDATE session.chat_sessions s SET message_count = s.message_count - 1, content_bytes = s.content_bytes - d.nbytes,
    {BUMP}
FROM d WHERE {OWNED}
RETURNING s.version""")
_HAS_MESSAGE = text(f"""SELECT EXISTS (SELECT 1 FROM session.messages m
    WHERE m.session_id = s.session_id AND m.message_id = :mid)
FROM session.chat_sessions s WHERE {OWNED}""")
# seq is gap-free, so a page is a primary-key range.
_PAGE = text(f"""SELECT s.message_count, (
    SELECT coalesce(json_agg({MESSAGE_JSON} ORDER BY m.seq), '[]'::json)::text
    FROM (SELECT * FROM session.messages p WHERE p.session_id = s.session_id AND p.seq > :after
          ORDER BY p.seq LIMIT :limit) m) AS items
FROM session.chat_sessions s WHERE {OWNED}""")
_TOUCH = text(f"UPDATE session.chat_sessions s SET {BUMP} WHERE {OWNED} RETURNING s.version")
_OWNS = text(f"SELECT s.version FROM session.chat_sessions s WHERE {OWNED}")
_CONFIG_JSON = f"""json_build_object('tool_id', c.tool_id, 'config', c.config,
    'created_at', {_iso("c.created_at")}, 'updated_at', {_iso("c.updated_at")})::text"""
_UPSERT_CONFIG = text(f"""INSERT INTO session.session_tool_configs AS c (session_id, tool_id, config)
VALUES (:sid, :tool_id, CAST(:config AS jsonb))
ON CONFLICT (session_id, tool_id) DO UPDATE SET config = EXCLUDED.config, updated_at = now()
RETURNING {_CONFIG_JSON} AS body""")
_DELETE_CONFIG = text(
    "DELETE FROM session.session_tool_configs WHERE session_id = :sid AND tool_id = :tool_id RETURNING 1"
)
_LIST_CONFIGS = text(f"""SELECT coalesce(json_agg(j.body ORDER BY j.tool_id), '[]'::json)::text FROM (
    SELECT c.tool_id, {_CONFIG_JSON}::json AS body FROM session.session_tool_configs c
    WHERE c.session_id = :sid AND c.tool_id > :after ORDER BY c.tool_id LIMIT :limit) j""")
# What a run of the session uses, without its messages: a send reads this, so its cost does not grow with the
# conversation (the whole session would be read on every message of a chat).
_RUN_SETUP = text(f"""SELECT json_build_object('session_id', s.session_id, 'variables', s.variables,
    'selected_tool_ids', s.selected_tool_ids,
    'tool_configs', (SELECT coalesce(json_object_agg(t.tool_id, t.config ORDER BY t.tool_id), '{{}}'::json) FROM (
        SELECT c.tool_id, c.config FROM session.session_tool_configs c WHERE c.session_id = s.session_id
        ORDER BY c.tool_id LIMIT :max_configs) t))::text
FROM session.chat_sessions s WHERE {OWNED}""")


@dataclass(frozen=True)
class Versioned:
    """A JSON text rendered by PostgreSQL and the session version it belongs to."""

    version: int
    body: str


@dataclass(frozen=True)
class Appended:
    """A new message (JSON text), the session's new version, and the session's estimated JSON size before the
    message (see `_SIZE_ESTIMATE`): whether the version it superseded could have been cached."""

    version: int
    body: str
    size_before: int


@dataclass(frozen=True)
class Probe:
    """The session's current version, with its body when the session is small (else None)."""

    version: int
    body: str | None


@dataclass(frozen=True)
class Page:
    message_count: int
    items: str  # a JSON array of messages


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
    messages: list[dict[str, Any]]  # in the API's shape, seq 1, 2, ...
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
    selected_tool_ids, run_count, message_count, content_bytes, created_at, updated_at, version)
VALUES (:sid, :uid, :title, :ctype, :cid, CAST(:variables AS jsonb), CAST(:tools AS jsonb),
    jsonb_array_length(CAST(:run_ids AS jsonb)), jsonb_array_length(CAST(:messages AS jsonb)), :nbytes, :created_at,
    :updated_at,
    (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
ON CONFLICT (session_id) DO UPDATE SET title = EXCLUDED.title, context_type = EXCLUDED.context_type,
    context_id = EXCLUDED.context_id, variables = EXCLUDED.variables, selected_tool_ids = EXCLUDED.selected_tool_ids,
    run_count = EXCLUDED.run_count, message_count = EXCLUDED.message_count,
    content_bytes = EXCLUDED.content_bytes, created_at = EXCLUDED.created_at, updated_at = now(),
    version = s.version + 1
WHERE s.user_id = EXCLUDED.user_id
RETURNING s.version""")
_IMPORT_CLEAR = text("DELETE FROM session.messages WHERE session_id = :sid")
_IMPORT_CLEAR_RUNS = text("DELETE FROM session.session_runs WHERE session_id = :sid")
_IMPORT_RUNS = text("""
INSERT INTO session.session_runs (session_id, run_id, position)
SELECT :sid, e.run_id::uuid, e.ord::integer
FROM jsonb_array_elements_text(CAST(:run_ids AS jsonb)) WITH ORDINALITY AS e(run_id, ord)""")
# The messages in their given order; seq is the position (the same rule the service keeps).
_IMPORT_MESSAGES = text("""
INSERT INTO session.messages (session_id, seq, message_id, role, content, metadata, run_id, created_at)
SELECT :sid, e.ord::integer, (e.m ->> 'message_id')::uuid, e.m ->> 'role', e.m ->> 'content',
       coalesce(e.m -> 'metadata', '{}'::jsonb), (e.m ->> 'run_id')::uuid, (e.m ->> 'created_at')::timestamptz
FROM jsonb_array_elements(CAST(:messages AS jsonb)) WITH ORDINALITY AS e(m, ord)""")


class SessionRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def _versioned(self, stmt: TextClause, **params: Any) -> Versioned | None:
        row = (await self.session.execute(stmt, params)).one_or_none()
        return Versioned(row.version, row.body) if row else None

    async def _scalar(self, stmt: TextClause, **params: Any) -> Any:
        return (await self.session.execute(stmt, params)).scalar_one_or_none()

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
        """The whole session with its messages, in one query."""
        return await self._versioned(_FULL, sid=session_id, uid=user_id)

    async def lock(self, user_id: uuid.UUID, session_id: uuid.UUID) -> int | None:
        """Lock the session row until the transaction ends; its message count, None when not this user's."""
        return await self._scalar(_LOCK, sid=session_id, uid=user_id)  # type: ignore[no-any-return]

    async def list_sessions(
        self,
        user_id: uuid.UUID,
        *,
        limit: int,
        before: Keyset | None,
        context_type: str | None,
        context_id: str | None,
    ) -> list[str]:
        """Session summaries as JSON texts, newest activity first (updated_at, then session_id, descending),
        after the keyset `before`."""
        s = ChatSession.__table__.alias("s").c  # the alias the rendered JSON refers to
        stmt: Select[str] = (
            select(literal_column(SESSION_SUMMARY, String))
            .where(s.user_id == user_id, older_than(s.updated_at, s.session_id, before))
            .order_by(s.updated_at.desc(), s.session_id.desc())
            .limit(limit)
        )
        if context_type is not None:
            stmt = stmt.where(s.context_type == context_type)
        if context_id is not None:
            stmt = stmt.where(s.context_id == context_id)
        return [str(body) for body in (await self.session.execute(stmt)).scalars()]

    async def delete(self, user_id: uuid.UUID, session_id: uuid.UUID) -> int | None:
        """The deleted session's last version; its messages and tool configs go with it (ON DELETE CASCADE)."""
        return await self._scalar(_DELETE, sid=session_id, uid=user_id)  # type: ignore[no-any-return]

    async def set_title(self, user_id: uuid.UUID, session_id: uuid.UUID, title: str) -> int | None:
        return await self._scalar(_TITLE, sid=session_id, uid=user_id, title=title)  # type: ignore[no-any-return]

    async def set_context(
        self, user_id: uuid.UUID, session_id: uuid.UUID, context_type: str, context_id: str | None
    ) -> int | None:
        params = {"sid": session_id, "uid": user_id, "ctype": context_type, "cid": context_id}
        return await self._scalar(_CONTEXT, **params)  # type: ignore[no-any-return]

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
        params = {"sid": session_id, "uid": user_id, "run_id": run_id}
        changed = await self._scalar(_RECORD_RUN, **params) is not None
        # A statement of its own: the CTE above reads the runs as they were before its INSERT.
        return await self._versioned(_RUN_IDS, sid=session_id, uid=user_id), changed

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
    ) -> Appended | None:
        """The new message; None when the session is missing or full (see `size`).

        Must be the first statement of its unit of work: it is a whole transaction by itself (one statement, which
        PostgreSQL runs atomically), so it runs in autocommit, one round trip instead of BEGIN, it, COMMIT. The
        request's commit then has nothing left to do and runs its after-commit hooks as usual."""
        conn = await driver_connection(self.session)
        params = {
            "sid": session_id,
            "uid": user_id,
            "mid": uuid.uuid4(),
            "role": role,
            "content": content,
            "metadata": _dumps(metadata),
            "run_id": run_id,
            "nbytes": len(content.encode()),
            "max_messages": max_messages,
            "max_bytes": max_bytes,
        }
        row = await conn.fetchrow(_APPEND.sql, *_APPEND.args(params))
        return Appended(row["version"], row["body"], row["size_before"]) if row else None

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
        if await self.lock(user_id, session_id) is None:
            return None
        return await self._scalar(  # type: ignore[no-any-return]
            _APPEND_RUN_OUTCOME,
            sid=session_id,
            uid=user_id,
            mid=uuid.uuid4(),
            role=role,
            content=content,
            metadata=_dumps(metadata),
            run_id=run_id,
            nbytes=len(content.encode()),
        )

    async def delete_latest_message(
        self, user_id: uuid.UUID, session_id: uuid.UUID, message_id: uuid.UUID
    ) -> int | None:
        """The new version when `message_id` was the latest message and is gone; None otherwise."""
        latest = await self.lock(user_id, session_id)
        if not latest:
            return None
        params = {"sid": session_id, "uid": user_id, "mid": message_id, "seq": latest}
        return await self._scalar(_DELETE_LATEST, **params)  # type: ignore[no-any-return]

    async def has_message(self, user_id: uuid.UUID, session_id: uuid.UUID, message_id: uuid.UUID) -> bool | None:
        """None when there is no such session of this user."""
        return await self._scalar(_HAS_MESSAGE, sid=session_id, uid=user_id, mid=message_id)  # type: ignore[no-any-return]

    async def page(self, user_id: uuid.UUID, session_id: uuid.UUID, after_seq: int, limit: int) -> Page | None:
        """Up to `limit` messages with seq > `after_seq`, oldest first, and the session's message count."""
        params = {"sid": session_id, "uid": user_id, "after": after_seq, "limit": limit}
        row = (await self.session.execute(_PAGE, params)).one_or_none()
        return Page(row.message_count, row.items) if row else None

    async def touch(self, user_id: uuid.UUID, session_id: uuid.UUID) -> int | None:
        """Bump the session's version (it changed through a side table); None when not this user's session."""
        return await self._scalar(_TOUCH, sid=session_id, uid=user_id)  # type: ignore[no-any-return]

    async def owns(self, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
        return (await self.session.execute(_OWNS, {"sid": session_id, "uid": user_id})).first() is not None

    async def upsert_tool_config(self, session_id: uuid.UUID, tool_id: str, config: dict[str, Any]) -> str:
        params = {"sid": session_id, "tool_id": tool_id, "config": _dumps(config)}
        return str((await self.session.execute(_UPSERT_CONFIG, params)).scalar_one())

    async def delete_tool_config(self, session_id: uuid.UUID, tool_id: str) -> bool:
        return (await self.session.execute(_DELETE_CONFIG, {"sid": session_id, "tool_id": tool_id})).first() is not None

    async def list_tool_configs(self, session_id: uuid.UUID, *, after: str, limit: int) -> str:
        """A JSON array of tool configs by tool_id."""
        params = {"sid": session_id, "after": after, "limit": limit}
        return str((await self.session.execute(_LIST_CONFIGS, params)).scalar_one())

    async def run_setup(self, user_id: uuid.UUID, session_id: uuid.UUID, *, max_configs: int) -> str | None:
        """`RunSetupOut` as JSON text, one query; None when there is no such session of this user."""
        params = {"sid": session_id, "uid": user_id, "max_configs": max_configs}
        body = (await self.session.execute(_RUN_SETUP, params)).scalar_one_or_none()
        return None if body is None else str(body)

    async def import_session(self, s: ImportedSession) -> int | None:
        """Write a whole session under its given ID (the legacy importer): the row, then its messages replaced.
        The row's version, or None when the session_id belongs to another user."""
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
        # The upsert takes the row lock (a new row is invisible to others until the commit), so no append can
        # slip in between clearing the old messages and writing the new ones.
        version = await self._scalar(_IMPORT, **params)
        if version is None:
            return None
        await self.session.execute(_IMPORT_CLEAR, {"sid": s.session_id})
        await self.session.execute(_IMPORT_MESSAGES, {"sid": s.session_id, "messages": params["messages"]})
        await self.session.execute(_IMPORT_CLEAR_RUNS, {"sid": s.session_id})
        await self.session.execute(_IMPORT_RUNS, {"sid": s.session_id, "run_ids": params["run_ids"]})
        return int(version)
