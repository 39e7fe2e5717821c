"""The agent registry: agents saved by workflows and agents created on their own, keyed by agent_id."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.workflow.domain.definitions import agent_uuid
from services.workflow.domain.records import AgentRow
from services.workflow.models import Agent
from services.workflow.repository import AgentRepository
from services.workflow.schemas import AgentOut, AgentSpec
from services.workflow.service.claim import create_claiming
from shared.errors import Conflict, NotFound, Unprocessable
from shared.pagination import Page, decode_keyset, keyset_cursor, split_page


def _out(row: Agent) -> AgentOut:
    return AgentOut.model_validate(row, from_attributes=True)


def _not_found(agent_id: uuid.UUID) -> NotFound:
    return NotFound(f"No agent {agent_id} in your account.", error="agent_not_found")


def _exists(agent_id: uuid.UUID) -> Conflict:
    return Conflict(
        f"You already have an agent with agent_id {agent_id}; update it with PUT /agents/{agent_id}, or leave "
        "agent_id out to get a new one.",
        error="agent_exists",
    )


def _row(agent_id: uuid.UUID, spec: AgentSpec) -> AgentRow:
    definition = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    definition["agent_id"] = str(agent_id)
    return AgentRow(agent_id=agent_id, name=spec.name, definition=definition)


class AgentService:
    def __init__(self, session: AsyncSession):
        self.repo = AgentRepository(session)

    async def _create_mine(self, user_id: uuid.UUID, agent_id: uuid.UUID, spec: AgentSpec) -> Agent | None:
        """The new row, or None when another account holds the ID; 409 when the caller does."""
        row = await self.repo.create(user_id, _row(agent_id, spec))
        if row is None and await self.repo.get(user_id, agent_id) is not None:
            raise _exists(agent_id)
        return row

    async def create(self, user_id: uuid.UUID, spec: AgentSpec) -> AgentOut:
        """An ID another account holds is answered as an unused one would be, under an ID of the caller's own:
        what belongs to others is never revealed, not even that it exists."""
        agent_id = agent_uuid(spec.agent_id, user_id) or uuid.uuid4()
        row = await create_claiming(agent_id, "agt", user_id, lambda i: self._create_mine(user_id, i, spec))
        if row is None:
            raise Conflict("No free agent_id could be found; try again.", error="agent_exists")
        return _out(row)

    async def get(self, user_id: uuid.UUID, agent_id: uuid.UUID) -> AgentOut:
        row = await self.repo.get(user_id, agent_id)
        if row is None:
            raise _not_found(agent_id)
        return _out(row)

    async def page(
        self, user_id: uuid.UUID, source_workflow_id: uuid.UUID | None, cursor: str | None, limit: int
    ) -> Page[AgentOut]:
        rows = await self.repo.page(user_id, source_workflow_id, decode_keyset(cursor), limit + 1)
        items, next_cursor = split_page(rows, limit, lambda a: keyset_cursor(a.created_at, a.agent_id))
        return Page(items=[_out(r) for r in items], next_cursor=next_cursor)

    async def update(self, user_id: uuid.UUID, agent_id: uuid.UUID, spec: AgentSpec) -> AgentOut:
        named = agent_uuid(spec.agent_id, user_id)
        if named is not None and named != agent_id:
            raise Unprocessable(
                f"agent_id: the body names agent {named} but the path names {agent_id}; make them match or leave "
                "agent_id out of the body."
            )
        row = await self.repo.update(user_id, _row(agent_id, spec))
        if row is None:
            raise _not_found(agent_id)
        return _out(row)

    async def delete(self, user_id: uuid.UUID, agent_id: uuid.UUID) -> None:
        if not await self.repo.delete(user_id, agent_id):
            raise _not_found(agent_id)
