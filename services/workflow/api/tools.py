from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.workflow.api.answers import answers
from services.workflow.api.deps import ToolsDep
from services.workflow.schemas import MAX_TAGS, Tag, ToolIn, ToolOut, ToolType
from shared.auth import User
from shared.pagination import CursorParam, LimitParam, Page

router = APIRouter(prefix="/tools", tags=["tools"])


@router.get("", response_model=Page[ToolOut], responses=answers(400))
async def list_tools(
    user: User,
    tools: ToolsDep,
    tag: Annotated[
        list[Tag] | None,
        Query(
            max_length=MAX_TAGS,
            description=f"Repeat for several (up to {MAX_TAGS}, each as a tool's tags are: 1 to 64 characters): "
            "only tools that have every tag.",
        ),
    ] = None,
    type: Annotated[ToolType | None, Query(description="Only tools of this type.")] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> Page[ToolOut]:
    return await tools.page(user.user_id, tag or [], type, cursor, limit)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ToolOut, responses=answers(409, 413))
async def create_tool(body: ToolIn, user: User, tools: ToolsDep) -> ToolOut:
    return await tools.create(user.user_id, body)


@router.get("/{tool_id}", response_model=ToolOut, responses=answers(404))
async def get_tool(tool_id: uuid.UUID, user: User, tools: ToolsDep) -> ToolOut:
    return await tools.get(user.user_id, tool_id)


@router.put("/{tool_id}", response_model=ToolOut, responses=answers(404, 409, 413))
async def update_tool(tool_id: uuid.UUID, body: ToolIn, user: User, tools: ToolsDep) -> ToolOut:
    return await tools.update(user.user_id, tool_id, body)


@router.delete(
    "/{tool_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=answers(404, 409)
)
async def delete_tool(tool_id: uuid.UUID, user: User, tools: ToolsDep) -> Response:
    await tools.delete(user.user_id, tool_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
