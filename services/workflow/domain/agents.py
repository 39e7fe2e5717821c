"""The agent registry: agents saved by workflows and agents created on their own, keyed by agent_id."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.workflow.domain.definitions import agent_uuid
from services.workflow.models import Agent
from services.workflow.repository import AgentRepository, AgentRow
from services.workflow.schemas import AgentOut, AgentSpec
from shared.errors import Conflict, NotFound, Unprocessable
from shared.pagination import Page, decode_keyset, keyset_cursor, split_page


def _out(row: Agent) -> AgentOut:
    return AgentOut.model_validate(row, from_attributes=True)


def _not_found(agent_id: uuid.UUID) -> NotFound:
    return NotFound(f"No agent {agent_id} in your account.", error="agent_not_found")


def _row(agent_id: uuid.UUID, spec: AgentSpec) -> AgentRow:
    definition = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    definition["agent_id"] = str(agent_id)
    return AgentRow(agent_id=agent_id, name=spec.name, definition=definition)


class Agents:
    def __init__(self, session: AsyncSession):
        self.repo = AgentRepository(session)

    async def create(self, user_id: uuid.UUID, spec: AgentSpec) -> AgentOut:
        agent_id = agent_uuid(spec.agent_id, user_id) or uuid.uuid4()
        row = await self.repo.create(user_id, _row(agent_id, spec))
        if row is None:
            # The same answer whoever owns it, so the ID's owner is not revealed.
            raise Conflict(
                f"An agent with agent_id {agent_id} already exists; update yours with PUT /agents/{agent_id}, or "
                "leave agent_id out to get a new one.",
                error="agent_exists",
            )
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
