"""Chat sessions: the rules (limits, ownership, pagination, run outcomes) between the API and the repository.

Sessions and messages are JSON texts rendered by PostgreSQL and checked against the response models here
(`check`), before they are sent or cached. Nothing here commits (the request dependency or the consumer does),
and cache invalidation is registered to run after the commit.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from services.session.caching import SessionCache
from services.session.repository import SessionRepository
from services.session.schemas import (
    Checked,
    ContextIn,
    MessageIn,
    MessageOut,
    MessagePage,
    RunIdsOut,
    RunSetupOut,
    SessionCreate,
    SessionOut,
    SessionPage,
    SessionSummary,
    ToolConfigOut,
    ToolConfigPage,
    ToolsOut,
    VariablesOut,
    check,
)
from shared.cache import Cache
from shared.errors import Conflict, NotFound, PayloadTooLarge
from shared.messaging.messages import RunFinishedV1
from shared.pagination import decode_keyset, decode_number, decode_text, keyset_cursor, split_page

MAX_CONTENT_BYTES = 64 * 1024
MAX_METADATA_BYTES = 16 * 1024
MAX_VARIABLES_BYTES = 64 * 1024
MAX_TOOL_CONFIG_BYTES = 64 * 1024
# A whole session is read (and cached) in one piece, so a session has a ceiling; start a new one past it.
MAX_MESSAGES = 20_000
MAX_SESSION_CONTENT_BYTES = 16 * 1024 * 1024
# A run's answer is never refused, only cut at this size.
MAX_RUN_OUTPUT_BYTES = 1024 * 1024
# The tool configs a run sees (by tool_id); a session with more is not what configs are for.
MAX_RUN_TOOL_CONFIGS = 10_000

_SESSION_NOT_FOUND = "No session with this id exists for your account; list yours with GET /sessions."


def _not_found() -> NotFound:
    return NotFound(_SESSION_NOT_FOUND, error="session_not_found")


_MESSAGES = TypeAdapter(list[MessageOut])
_TOOL_CONFIGS = TypeAdapter(list[ToolConfigOut])


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _check_size(what: str, size: int, limit: int) -> None:
    if size > limit:
        raise PayloadTooLarge(f"{what} is {size} bytes; the limit is {limit // 1024} KiB.")


def _truncate(text: str, limit: int) -> str:
    text = text.replace("\x00", "")
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[:limit].decode(errors="ignore") + "\n[truncated]"


def _dedupe(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


class SessionService:
    def __init__(self, db: AsyncSession, cache: Cache, *, inline_bytes: int = 32 * 1024):
        self.db = db
        self.repo = SessionRepository(db)
        self.cache = SessionCache(cache)
        # Sessions up to this (estimated) JSON size are read in one query, never cached (see caching.py).
        self.inline_bytes = inline_bytes

    def _changed(self, session_id: uuid.UUID, new_version: int) -> None:
        self.cache.invalidate(self.db, session_id, new_version - 1)

    async def _changed_session(
        self, user_id: uuid.UUID, session_id: uuid.UUID, version: int | None
    ) -> Checked[SessionOut]:
        """After a change of the session row: the whole session as it now is (our row lock keeps it still)."""
        if version is None:
            raise _not_found()
        self._changed(session_id, version)
        current = await self.repo.full(user_id, session_id)
        assert current is not None
        return check(SessionOut, current.body)

    # Sessions

    async def create(self, user_id: uuid.UUID, body: SessionCreate) -> Checked[SessionOut]:
        _check_size("variables", _size(body.variables), MAX_VARIABLES_BYTES)
        created = await self.repo.create(
            user_id,
            title=body.title,
            context_type=body.context_type,
            context_id=body.context_id,
            variables=body.variables,
            selected_tool_ids=_dedupe(body.selected_tool_ids),
        )
        return check(SessionOut, created.body)

    async def get(self, user_id: uuid.UUID, session_id: uuid.UUID) -> Checked[SessionOut]:
        """The whole session, one query (plus a Memcached read for a large one; see caching.py)."""

        async def load() -> tuple[int, bytes] | None:
            row = await self.repo.full(user_id, session_id)
            return (row.version, check(SessionOut, row.body).body) if row else None

        async def probe() -> tuple[int, bytes | None] | None:
            row = await self.repo.probe(user_id, session_id, self.inline_bytes)
            if row is None:
                return None
            return row.version, check(SessionOut, row.body).body if row.body is not None else None

        body = await self.cache.read(session_id, probe, load)
        if body is None:
            raise _not_found()
        # Every body the cache holds was checked before it was stored (`load`), under a key of this schema.
        return Checked(body)

    async def list_sessions(
        self, user_id: uuid.UUID, *, limit: int, cursor: str | None, context_type: str | None, context_id: str | None
    ) -> SessionPage:
        rows = await self.repo.list_sessions(
            user_id,
            limit=limit + 1,
            before=decode_keyset(cursor),
            context_type=context_type,
            context_id=context_id,
        )
        items, next_cursor = split_page(
            [SessionSummary.model_validate_json(row) for row in rows],
            limit,
            lambda s: keyset_cursor(s.updated_at, s.session_id),
        )
        return SessionPage(items=items, next_cursor=next_cursor)

    async def delete(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        version = await self.repo.delete(user_id, session_id)
        if version is None:
            raise _not_found()
        self.cache.invalidate(self.db, session_id, version)

    async def set_title(self, user_id: uuid.UUID, session_id: uuid.UUID, title: str) -> Checked[SessionOut]:
        version = await self.repo.set_title(user_id, session_id, title)
        return await self._changed_session(user_id, session_id, version)

    async def set_context(self, user_id: uuid.UUID, session_id: uuid.UUID, body: ContextIn) -> Checked[SessionOut]:
        version = await self.repo.set_context(user_id, session_id, body.context_type, body.context_id)
        return await self._changed_session(user_id, session_id, version)

    async def patch_variables(self, user_id: uuid.UUID, session_id: uuid.UUID, patch: dict[str, Any]) -> VariablesOut:
        """RFC 7396 merge patch, applied by PostgreSQL in one statement."""
        _check_size("The patch", _size(patch), MAX_VARIABLES_BYTES)
        result = await self.repo.patch_variables(user_id, session_id, patch)
        if result is None:
            raise _not_found()
        # Raising rolls the transaction back, so an oversized result is never stored.
        _check_size("variables after this patch", len(result.body.encode()), MAX_VARIABLES_BYTES)
        self._changed(session_id, result.version)
        return VariablesOut(variables=json.loads(result.body))

    async def set_tools(self, user_id: uuid.UUID, session_id: uuid.UUID, tool_ids: list[str]) -> ToolsOut:
        """Replace the selection (order kept, duplicates dropped)."""
        result = await self.repo.set_tools(user_id, session_id, _dedupe(tool_ids))
        if result is None:
            raise _not_found()
        self._changed(session_id, result.version)
        return ToolsOut(selected_tool_ids=json.loads(result.body))

    async def record_run(self, user_id: uuid.UUID, session_id: uuid.UUID, run_id: uuid.UUID) -> RunIdsOut:
        """Idempotent: recording a run twice keeps one entry."""
        result, changed = await self.repo.record_run(user_id, session_id, run_id)
        if result is None:
            raise _not_found()
        if changed:
            self._changed(session_id, result.version)
        return RunIdsOut(run_ids=json.loads(result.body))

    # Messages

    async def append(self, user_id: uuid.UUID, session_id: uuid.UUID, body: MessageIn) -> Checked[MessageOut]:
        _check_size("The message content", len(body.content.encode()), MAX_CONTENT_BYTES)
        _check_size("The message metadata", _size(body.metadata), MAX_METADATA_BYTES)
        result = await self.repo.append(
            user_id,
            session_id,
            role=body.role,
            content=body.content,
            metadata=body.metadata,
            run_id=body.run_id,
            max_messages=MAX_MESSAGES,
            max_bytes=MAX_SESSION_CONTENT_BYTES,
        )
        if result is None:
            size = await self.repo.size(user_id, session_id)
            if size is None:
                raise _not_found()
            raise Conflict(
                f"This session is full ({size[0]} messages, {size[1]} bytes of content; the limits are {MAX_MESSAGES} "
                f"messages and {MAX_SESSION_CONTENT_BYTES // (1024 * 1024)} MiB); start a new session.",
                error="session_full",
            )
        # A session that was small before this message was read inline, never cached: nothing to give back.
        if result.size_before > self.inline_bytes:
            self._changed(session_id, result.version)
        return check(MessageOut, result.body)

    async def messages(
        self, user_id: uuid.UUID, session_id: uuid.UUID, *, after_seq: int, cursor: str | None, limit: int
    ) -> MessagePage:
        """Messages with seq > after_seq (or after the cursor's position), oldest first: one primary-key range
        read, as cheap at message 10,000 as at message 10, so pages are not cached."""
        if cursor is not None:
            after_seq = decode_number(cursor, "after_seq")
        page = await self.repo.page(user_id, session_id, after_seq, limit + 1)
        if page is None:
            raise _not_found()
        items, next_cursor = split_page(_MESSAGES.validate_json(page.items), limit, lambda m: {"after_seq": m.seq})
        return MessagePage(items=items, next_cursor=next_cursor, last_seq=page.message_count)

    async def delete_message(self, user_id: uuid.UUID, session_id: uuid.UUID, message_id: uuid.UUID) -> None:
        """Only the latest message can be taken back, so seq stays gap-free."""
        version = await self.repo.delete_latest_message(user_id, session_id, message_id)
        if version is not None:
            self._changed(session_id, version)
            return
        exists = await self.repo.has_message(user_id, session_id, message_id)
        if exists is None:
            raise _not_found()
        if not exists:
            raise NotFound("This session has no message with this id.", error="message_not_found")
        raise Conflict(
            "Only the latest message of a session can be deleted (seq stays gap-free); this one has later messages.",
            error="message_not_latest",
        )

    # Per-tool configuration overrides

    async def put_tool_config(
        self, user_id: uuid.UUID, session_id: uuid.UUID, tool_id: str, config: dict[str, Any]
    ) -> ToolConfigOut:
        _check_size("The tool config", _size(config), MAX_TOOL_CONFIG_BYTES)
        version = await self.repo.touch(user_id, session_id)
        if version is None:
            raise _not_found()
        self._changed(session_id, version)
        return ToolConfigOut.model_validate_json(await self.repo.upsert_tool_config(session_id, tool_id, config))

    async def delete_tool_config(self, user_id: uuid.UUID, session_id: uuid.UUID, tool_id: str) -> None:
        version = await self.repo.touch(user_id, session_id)
        if version is None:
            raise _not_found()
        if not await self.repo.delete_tool_config(session_id, tool_id):
            raise NotFound("This session has no config for this tool.", error="tool_config_not_found")
        self._changed(session_id, version)

    async def list_tool_configs(
        self, user_id: uuid.UUID, session_id: uuid.UUID, *, limit: int, cursor: str | None
    ) -> ToolConfigPage:
        after = decode_text(cursor, "tool_id") or ""
        if not await self.repo.owns(user_id, session_id):
            raise _not_found()
        rows = await self.repo.list_tool_configs(session_id, after=after, limit=limit + 1)
        items, next_cursor = split_page(_TOOL_CONFIGS.validate_json(rows), limit, lambda c: {"tool_id": c.tool_id})
        return ToolConfigPage(items=items, next_cursor=next_cursor)

    async def run_setup(self, user_id: uuid.UUID, session_id: uuid.UUID) -> Checked[RunSetupOut]:
        """Variables, selected tools and tool configs in one query, without the messages: read on every send."""
        body = await self.repo.run_setup(user_id, session_id, max_configs=MAX_RUN_TOOL_CONFIGS)
        if body is None:
            raise _not_found()
        return check(RunSetupOut, body)

    # Run outcomes (from the broker)

    async def record_run_outcome(self, event: RunFinishedV1) -> bool:
        """Append the run's answer (or why it did not finish) once per run; False when nothing changed."""
        assert event.session_id is not None
        if event.status == "completed":
            role, content = "assistant", event.output or ""
        elif event.status == "failed":
            role, content = "system", f"The run failed: {event.error or 'no reason was given'}"
        else:
            role, content = "system", "The run was cancelled" + (f": {event.error}" if event.error else ".")
        version = await self.repo.append_run_outcome(
            event.user_id,
            event.session_id,
            run_id=event.run_id,
            role=role,
            content=_truncate(content, MAX_RUN_OUTPUT_BYTES),
            metadata={"source": "run", "status": event.status, "workflow_id": str(event.workflow_id)},
        )
        if version is None:
            return False
        self._changed(event.session_id, version)
        return True
