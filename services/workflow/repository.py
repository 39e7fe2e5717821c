"""Every SQL statement of the workflow service. Ownership is part of each query: another user's rows are
simply not found. Lists are keyset-paginated, newest first, on (created_at, id)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.workflow.domain.records import AgentRow, ToolRow
from services.workflow.models import Agent, Tool, Workflow, WorkflowVersion
from shared.pagination import Keyset, older_than

# Read by every `chat/send`: built once, since building a statement and its cache key costs more CPU than the
# query's round trip.
_GET = select(Workflow).where(
    Workflow.workflow_id == bindparam("workflow_id"),
    Workflow.user_id == bindparam("user_id"),
    Workflow.deleted_at.is_(None),
)


class WorkflowRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def find(self, workflow_id: uuid.UUID) -> Workflow | None:
        """The row whoever owns it, deleted or not: only for deciding what a save may do."""
        return (
            await self.session.execute(select(Workflow).where(Workflow.workflow_id == workflow_id))
        ).scalar_one_or_none()

    async def get(self, user_id: uuid.UUID, workflow_id: uuid.UUID) -> Workflow | None:
        params = {"workflow_id": workflow_id, "user_id": user_id}
        return (await self.session.execute(_GET, params)).scalar_one_or_none()

    async def save(
        self, workflow_id: uuid.UUID, user_id: uuid.UUID, name: str, status: str, definition: dict[str, Any]
    ) -> Workflow | None:
        """Insert or update the current definition; a final save takes the next version number.

        One statement: the conflicting row is locked, so racing final saves of one workflow queue up and each
        reads the number its predecessor wrote. None when the row is someone else's or deleted.
        """
        final = status == "final"
        stmt = insert(Workflow).values(
            workflow_id=workflow_id,
            user_id=user_id,
            name=name,
            status=status,
            version=1 if final else 0,
            definition=definition,
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[Workflow.workflow_id],
            set_={
                "name": stmt.excluded.name,
                "status": stmt.excluded.status,
                "definition": stmt.excluded.definition,
                "version": Workflow.version + 1 if final else Workflow.version,
                "updated_at": func.now(),
            },
            where=and_(Workflow.user_id == user_id, Workflow.deleted_at.is_(None)),
        ).returning(Workflow)
        result = await self.session.execute(upsert, execution_options={"populate_existing": True})
        return result.scalar_one_or_none()

    async def add_version(self, workflow_id: uuid.UUID, version: int, name: str, definition: dict[str, Any]) -> None:
        await self.session.execute(
            insert(WorkflowVersion).values(workflow_id=workflow_id, version=version, name=name, definition=definition)
        )

    async def page(
        self, user_id: uuid.UUID, status: str | None, after: Keyset | None, limit: int
    ) -> Sequence[Workflow]:
        stmt = select(Workflow).where(
            Workflow.user_id == user_id,
            Workflow.deleted_at.is_(None),
            older_than(Workflow.created_at, Workflow.workflow_id, after),
        )
        if status is not None:
            stmt = stmt.where(Workflow.status == status)
        stmt = stmt.order_by(Workflow.created_at.desc(), Workflow.workflow_id.desc()).limit(limit)
        return (await self.session.execute(stmt)).scalars().all()

    async def soft_delete(self, user_id: uuid.UUID, workflow_id: uuid.UUID) -> bool:
        stmt = (
            update(Workflow)
            .where(Workflow.workflow_id == workflow_id, Workflow.user_id == user_id, Workflow.deleted_at.is_(None))
            .values(deleted_at=func.now())
            .returning(Workflow.workflow_id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    def _owned_versions(self, user_id: uuid.UUID, workflow_id: uuid.UUID) -> Any:
        return (
            select(WorkflowVersion)
            .join(Workflow, Workflow.workflow_id == WorkflowVersion.workflow_id)
            .where(
                WorkflowVersion.workflow_id == workflow_id,
                Workflow.user_id == user_id,
                Workflow.deleted_at.is_(None),
            )
        )

    async def versions(
        self, user_id: uuid.UUID, workflow_id: uuid.UUID, after_version: int, limit: int
    ) -> Sequence[WorkflowVersion]:
        stmt = (
            self._owned_versions(user_id, workflow_id)
            .where(WorkflowVersion.version > after_version)
            .order_by(WorkflowVersion.version)
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def version(self, user_id: uuid.UUID, workflow_id: uuid.UUID, number: int) -> WorkflowVersion | None:
        stmt = self._owned_versions(user_id, workflow_id).where(WorkflowVersion.version == number)
        return (await self.session.execute(stmt)).scalar_one_or_none()


class AgentRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def upsert_from_workflow(
        self, user_id: uuid.UUID, workflow_id: uuid.UUID, agents: Sequence[AgentRow]
    ) -> set[uuid.UUID]:
        """Insert or update every agent by agent_id; returns the IDs written. An ID missing from the answer
        belongs to another user: the conditional DO UPDATE leaves such rows alone."""
        if not agents:
            return set()
        # A fixed order, so two saves sharing agents lock the rows in the same order and never deadlock.
        ordered = sorted(agents, key=lambda a: a.agent_id)
        stmt = insert(Agent).values(
            [
                {
                    "agent_id": a.agent_id,
                    "user_id": user_id,
                    "name": a.name,
                    "definition": a.definition,
                    "source_workflow_id": workflow_id,
                }
                for a in ordered
            ]
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[Agent.agent_id],
            set_={
                "name": stmt.excluded.name,
                "definition": stmt.excluded.definition,
                "source_workflow_id": stmt.excluded.source_workflow_id,
                "updated_at": func.now(),
            },
            where=Agent.user_id == stmt.excluded.user_id,
        ).returning(Agent.agent_id)
        return set((await self.session.execute(upsert)).scalars().all())

    async def create(self, user_id: uuid.UUID, agent: AgentRow) -> Agent | None:
        """None when the agent_id is taken (by anyone)."""
        stmt = (
            insert(Agent)
            .values(agent_id=agent.agent_id, user_id=user_id, name=agent.name, definition=agent.definition)
            .on_conflict_do_nothing(index_elements=[Agent.agent_id])
            .returning(Agent)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get(self, user_id: uuid.UUID, agent_id: uuid.UUID) -> Agent | None:
        stmt = select(Agent).where(Agent.agent_id == agent_id, Agent.user_id == user_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self, user_id: uuid.UUID, source_workflow_id: uuid.UUID | None, after: Keyset | None, limit: int
    ) -> Sequence[Agent]:
        stmt = select(Agent).where(Agent.user_id == user_id, older_than(Agent.created_at, Agent.agent_id, after))
        if source_workflow_id is not None:
            stmt = stmt.where(Agent.source_workflow_id == source_workflow_id)
        stmt = stmt.order_by(Agent.created_at.desc(), Agent.agent_id.desc()).limit(limit)
        return (await self.session.execute(stmt)).scalars().all()

    async def update(self, user_id: uuid.UUID, agent: AgentRow) -> Agent | None:
        stmt = (
            update(Agent)
            .where(Agent.agent_id == agent.agent_id, Agent.user_id == user_id)
            .values(name=agent.name, definition=agent.definition, updated_at=func.now())
            .returning(Agent)
        )
        result = await self.session.execute(stmt, execution_options={"populate_existing": True})
        return result.scalar_one_or_none()

    async def delete(self, user_id: uuid.UUID, agent_id: uuid.UUID) -> bool:
        stmt = delete(Agent).where(Agent.agent_id == agent_id, Agent.user_id == user_id).returning(Agent.agent_id)
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None


class ToolRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    @staticmethod
    def _visible(user_id: uuid.UUID) -> ColumnElement[bool]:
        # user_id NULL: the platform's builtin tools, visible to everyone.
        return or_(Tool.user_id == user_id, Tool.user_id.is_(None))

    async def get_visible(self, user_id: uuid.UUID, tool_id: uuid.UUID) -> Tool | None:
        stmt = select(Tool).where(Tool.tool_id == tool_id, self._visible(user_id))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self, user_id: uuid.UUID, tags: Sequence[str], tool_type: str | None, after: Keyset | None, limit: int
    ) -> Sequence[Tool]:
        stmt = select(Tool).where(self._visible(user_id), older_than(Tool.created_at, Tool.tool_id, after))
        if tags:
            # `@>` (contains every tag) is what the GIN index on tags serves.
            stmt = stmt.where(Tool.tags.contains(list(tags)))
        if tool_type is not None:
            stmt = stmt.where(Tool.tool_type == tool_type)
        stmt = stmt.order_by(Tool.created_at.desc(), Tool.tool_id.desc()).limit(limit)
        return (await self.session.execute(stmt)).scalars().all()

    async def create(self, user_id: uuid.UUID, tool: ToolRow) -> Tool | None:
        stmt = (
            insert(Tool)
            .values(
                tool_id=tool.tool_id,
                user_id=user_id,
                name=tool.name,
                tool_type=tool.tool_type,
                tags=tool.tags,
                definition=tool.definition,
            )
            .on_conflict_do_nothing(index_elements=[Tool.tool_id])
            .returning(Tool)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def update(self, user_id: uuid.UUID, tool: ToolRow) -> Tool | None:
        stmt = (
            update(Tool)
            .where(Tool.tool_id == tool.tool_id, Tool.user_id == user_id)
            .values(
                name=tool.name,
                tool_type=tool.tool_type,
                tags=tool.tags,
                definition=tool.definition,
                updated_at=func.now(),
            )
            .returning(Tool)
        )
        result = await self.session.execute(stmt, execution_options={"populate_existing": True})
        return result.scalar_one_or_none()

    async def delete(self, user_id: uuid.UUID, tool_id: uuid.UUID) -> bool:
        stmt = delete(Tool).where(Tool.tool_id == tool_id, Tool.user_id == user_id).returning(Tool.tool_id)
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None
