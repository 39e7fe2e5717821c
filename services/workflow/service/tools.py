"""Tools: the user's own, plus the platform's builtin tools (user_id NULL), which everyone sees and nobody
changes: PUT or DELETE on one is a 409 that says so (a 404 would deny what GET just showed)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.workflow.domain.tools import dedupe_tags, tool_row
from services.workflow.models import Tool
from services.workflow.repository import ToolRepository
from services.workflow.schemas import ToolIn, ToolOut
from services.workflow.service.claim import create_claiming
from shared.errors import Conflict, NotFound
from shared.ids import parse_uuid
from shared.pagination import Page, decode_keyset, keyset_cursor, split_page


def _out(row: Tool) -> ToolOut:
    return ToolOut(
        tool_id=row.tool_id,
        name=row.name,
        tool_type=row.tool_type,  # type: ignore[arg-type]  # the check constraint keeps it to the three types
        tags=list(row.tags),
        definition=row.definition,
        builtin=row.user_id is None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _not_found(tool_id: uuid.UUID) -> NotFound:
    return NotFound(f"No tool {tool_id} in your account or among the builtin tools.", error="tool_not_found")


def _exists(tool_id: uuid.UUID) -> Conflict:
    return Conflict(
        f"A tool with tool_id {tool_id} is already in your account or among the builtin tools; leave tool_id out "
        "to get a new one.",
        error="tool_exists",
    )


def _read_only(tool_id: uuid.UUID) -> Conflict:
    return Conflict(
        f"Tool {tool_id} is one of the platform's builtin tools and cannot be changed or deleted; create a tool of "
        "your own with POST /tools instead.",
        error="read_only_tool",
    )


class ToolService:
    def __init__(self, session: AsyncSession):
        self.repo = ToolRepository(session)

    async def _create_mine(self, user_id: uuid.UUID, tool_id: uuid.UUID, body: ToolIn) -> Tool | None:
        """The new row, or None when another account holds the ID; 409 when the caller (or a builtin) does."""
        row = await self.repo.create(user_id, tool_row(tool_id, body))
        if row is None and await self.repo.get_visible(user_id, tool_id) is not None:
            raise _exists(tool_id)
        return row

    async def create(self, user_id: uuid.UUID, body: ToolIn) -> ToolOut:
        """An ID another account holds is answered as an unused one would be, under an ID of the caller's own."""
        tool_id = (
            parse_uuid(body.tool_id, "tool", scope=user_id) if body.tool_id and body.tool_id.strip() else uuid.uuid4()
        )
        row = await create_claiming(tool_id, "tool", user_id, lambda i: self._create_mine(user_id, i, body))
        if row is None:
            raise Conflict("No free tool_id could be found; try again.", error="tool_exists")
        return _out(row)

    async def get(self, user_id: uuid.UUID, tool_id: uuid.UUID) -> ToolOut:
        row = await self.repo.get_visible(user_id, tool_id)
        if row is None:
            raise _not_found(tool_id)
        return _out(row)

    async def page(
        self, user_id: uuid.UUID, tags: Sequence[str], tool_type: str | None, cursor: str | None, limit: int
    ) -> Page[ToolOut]:
        rows = await self.repo.page(user_id, dedupe_tags(tags), tool_type, decode_keyset(cursor), limit + 1)
        items, next_cursor = split_page(rows, limit, lambda t: keyset_cursor(t.created_at, t.tool_id))
        return Page(items=[_out(r) for r in items], next_cursor=next_cursor)

    async def _own(self, user_id: uuid.UUID, tool_id: uuid.UUID) -> Tool:
        row = await self.repo.get_visible(user_id, tool_id)
        if row is None:
            raise _not_found(tool_id)
        if row.user_id is None:
            raise _read_only(tool_id)
        return row

    async def update(self, user_id: uuid.UUID, tool_id: uuid.UUID, body: ToolIn) -> ToolOut:
        await self._own(user_id, tool_id)
        row = await self.repo.update(user_id, tool_row(tool_id, body))
        if row is None:
            raise _not_found(tool_id)
        return _out(row)

    async def delete(self, user_id: uuid.UUID, tool_id: uuid.UUID) -> None:
        await self._own(user_id, tool_id)
        if not await self.repo.delete(user_id, tool_id):
            raise _not_found(tool_id)
