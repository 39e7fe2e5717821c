"""How a request gets its service object: built from the request's database session (which commits when the
endpoint returns) and what the lifespan put on `app.state`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.workflow.service import AgentService, ToolService, WorkflowService
from shared.db import DbReadSession, DbSession


# `async` so FastAPI calls these on the event loop: a plain `def` dependency costs a worker-thread hop per request.
async def _workflows(db: DbSession, request: Request) -> WorkflowService:
    return WorkflowService(db, request.app.state.working_copies)


async def _workflow_reads(db: DbReadSession, request: Request) -> WorkflowService:
    """For routes that read one workflow with one statement (no transaction: see `shared.db.read_session`)."""
    return WorkflowService(db, request.app.state.working_copies)


async def _agents(db: DbSession) -> AgentService:
    return AgentService(db)


async def _tools(db: DbSession) -> ToolService:
    return ToolService(db)


WorkflowsDep = Annotated[WorkflowService, Depends(_workflows)]
WorkflowReadsDep = Annotated[WorkflowService, Depends(_workflow_reads)]
AgentsDep = Annotated[AgentService, Depends(_agents)]
ToolsDep = Annotated[ToolService, Depends(_tools)]
