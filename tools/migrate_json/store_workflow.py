"""Agents, workflows and tools written through the workflow service's repositories, compared before written.

Nothing here commits. A `Skip` raised after a write is undone by the caller's savepoint, so a workflow whose
agents cannot be synced leaves no trace.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.workflow.models import Agent, Tool, Workflow, WorkflowVersion
from services.workflow.repository import AgentRepository, AgentRow, ToolRepository, ToolRow, WorkflowRepository
from tools.migrate_json.convert import Skip, WorkflowRecord
from tools.migrate_json.report import Outcome


def _taken(kind: str, object_id: uuid.UUID) -> Skip:
    return Skip(
        f"{kind} {object_id} belongs to another account (migrated earlier for another owner?); migrate this tree "
        "with that owner's --owner, or change the ID in the file"
    )


class WorkflowStore:
    def __init__(self, session: AsyncSession, owner: uuid.UUID):
        self.owner = owner
        self.workflows = WorkflowRepository(session)
        self.agents = AgentRepository(session)
        self.tools = ToolRepository(session)

    async def agent(self, row: AgentRow) -> Outcome:
        stored = await self.agents.get(self.owner, row.agent_id)
        if stored is None:
            if await self.agents.create(self.owner, row) is None:
                raise _taken("agent", row.agent_id)
            return "created"
        if stored.name == row.name and stored.definition == row.definition:
            return "unchanged"
        await self.agents.update(self.owner, row)
        return "updated"

    async def _unchanged(self, stored: Workflow, record: WorkflowRecord) -> bool:
        if record.status == "draft":
            return stored.status == "draft" and stored.name == record.name and stored.definition == record.definition
        # A final file is in when its latest version holds it, whatever was saved as a draft after it.
        if stored.version == 0:
            return False
        latest = await self.workflows.version(self.owner, stored.workflow_id, stored.version)
        return latest is not None and latest.name == record.name and latest.definition == record.definition

    async def workflow(self, record: WorkflowRecord) -> Outcome:
        if record.status == "temp":
            raise Skip("temp workflow: temp saves stay out of the database (only working copies keep them)")
        stored = await self.workflows.find(record.workflow_id)
        if stored is not None:
            if stored.user_id != self.owner:
                raise _taken("workflow", record.workflow_id)
            if stored.deleted_at is not None:
                raise Skip(f"workflow {record.workflow_id} was deleted in EchoAI since an earlier migration; left so")
            if await self._unchanged(stored, record):
                return "unchanged"
        row = await self.workflows.save(record.workflow_id, self.owner, record.name, record.status, record.definition)
        if row is None:  # deleted or taken between the read and the write
            raise _taken("workflow", record.workflow_id)
        if record.status == "final":
            await self.workflows.add_version(record.workflow_id, row.version, record.name, record.definition)
        written = await self.agents.upsert_from_workflow(self.owner, record.workflow_id, record.agents)
        taken = sorted({a.agent_id for a in record.agents} - written)
        if taken:
            raise _taken("agent", taken[0])
        return "created" if stored is None else "updated"

    async def tool(self, row: ToolRow) -> Outcome:
        stored = await self.tools.get_visible(self.owner, row.tool_id)
        if stored is None:
            if await self.tools.create(self.owner, row) is None:
                raise _taken("tool", row.tool_id)
            return "created"
        if stored.user_id is None:
            raise Skip(f"tool {row.tool_id} is one of the platform's builtin tools, which cannot be replaced")
        same = (stored.name, stored.tool_type, list(stored.tags), stored.definition) == (
            row.name,
            row.tool_type,
            row.tags,
            row.definition,
        )
        if same:
            return "unchanged"
        await self.tools.update(self.owner, row)
        return "updated"


async def _count(session: AsyncSession, stmt: object) -> int:
    return int((await session.execute(stmt)).scalar_one())  # type: ignore[call-overload]


async def count_rows(session: AsyncSession, owner: uuid.UUID) -> dict[str, int]:
    """The owner's rows (live workflows, own tools: builtins are not the owner's) and workflow versions."""
    live = (Workflow.user_id == owner, Workflow.deleted_at.is_(None))
    return {
        "agents": await _count(session, select(func.count()).select_from(Agent).where(Agent.user_id == owner)),
        "workflows": await _count(session, select(func.count()).select_from(Workflow).where(*live)),
        "tools": await _count(session, select(func.count()).select_from(Tool).where(Tool.user_id == owner)),
        "workflow_versions": await _count(
            session,
            select(func.count()).select_from(WorkflowVersion).join(Workflow).where(*live),
        ),
    }
