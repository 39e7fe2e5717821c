from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.workflow.api.answers import answers
from services.workflow.api.deps import AgentsDep
from services.workflow.schemas import AgentOut, AgentSpec
from shared.auth import User
from shared.pagination import CursorParam, LimitParam, Page

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("", response_model=Page[AgentOut], responses=answers(400))
async def list_agents(
    user: User,
    agents: AgentsDep,
    source_workflow_id: Annotated[
        uuid.UUID | None, Query(description="Only agents last saved by this workflow.")
    ] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> Page[AgentOut]:
    return await agents.page(user.user_id, source_workflow_id, cursor, limit)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AgentOut, responses=answers(409, 413))
async def create_agent(body: AgentSpec, user: User, agents: AgentsDep) -> AgentOut:
    return await agents.create(user.user_id, body)


@router.get("/{agent_id}", response_model=AgentOut, responses=answers(404))
async def get_agent(agent_id: uuid.UUID, user: User, agents: AgentsDep) -> AgentOut:
    return await agents.get(user.user_id, agent_id)


@router.put("/{agent_id}", response_model=AgentOut, responses=answers(404, 413))
async def update_agent(agent_id: uuid.UUID, body: AgentSpec, user: User, agents: AgentsDep) -> AgentOut:
    return await agents.update(user.user_id, agent_id, body)


@router.delete("/{agent_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=answers(404))
async def delete_agent(agent_id: uuid.UUID, user: User, agents: AgentsDep) -> Response:
    await agents.delete(user.user_id, agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
