"""How a request gets its service object: built from the request's database session (which commits when the
endpoint returns) and what the lifespan put on `app.state`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.workflow.service import AgentService, ToolService, WorkflowService
from shared.db import DbSession


def _workflows(db: DbSession, request: Request) -> WorkflowService:
    return WorkflowService(db, request.app.state.working_copies)


def _agents(db: DbSession) -> AgentService:
    return AgentService(db)


def _tools(db: DbSession) -> ToolService:
    return ToolService(db)


WorkflowsDep = Annotated[WorkflowService, Depends(_workflows)]
AgentsDep = Annotated[AgentService, Depends(_agents)]
ToolsDep = Annotated[ToolService, Depends(_tools)]
