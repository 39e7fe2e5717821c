from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.workflow.domain.agents import Agents
from services.workflow.domain.tools import Tools
from services.workflow.domain.workflows import Workflows
from shared.db import DbSession


def _workflows(db: DbSession, request: Request) -> Workflows:
    return Workflows(db, request.app.state.working_copies)


def _agents(db: DbSession) -> Agents:
    return Agents(db)


def _tools(db: DbSession) -> Tools:
    return Tools(db)


WorkflowsDep = Annotated[Workflows, Depends(_workflows)]
AgentsDep = Annotated[Agents, Depends(_agents)]
ToolsDep = Annotated[Tools, Depends(_tools)]
