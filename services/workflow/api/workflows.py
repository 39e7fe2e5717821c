from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status

from services.workflow.api.answers import answers
from services.workflow.api.deps import WorkflowReadsDep, WorkflowsDep
from services.workflow.schemas import (
    SaveIn,
    VersionOut,
    VersionSummary,
    WorkflowDefinition,
    WorkflowOut,
    WorkflowSummary,
)
from shared.auth import User
from shared.pagination import CursorParam, LimitParam, Page

router = APIRouter(prefix="/workflows", tags=["workflows"])

# The column is a PostgreSQL integer: a number past its range names no version, and is refused as a 422 naming
# the parameter before any query is made of it.
MAX_VERSION = 2**31 - 1
VersionNumber = Annotated[
    int, Path(ge=1, le=MAX_VERSION, description="1 for the first final save, 2 for the next, ... (at most 2^31 - 1).")
]


# Declared before /{workflow_id} so "schema" is not read as an id.
@router.get("/schema", summary="JSON Schema of a workflow definition", responses=answers())
async def definition_schema(user: User) -> dict[str, Any]:
    return WorkflowDefinition.model_json_schema(by_alias=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WorkflowOut, responses=answers(413, 503))
async def create_workflow(body: SaveIn, user: User, workflows: WorkflowsDep) -> WorkflowOut:
    return await workflows.save(user.user_id, body)


@router.get("", response_model=Page[WorkflowSummary], responses=answers(400))
async def list_workflows(
    user: User,
    workflows: WorkflowsDep,
    status: Annotated[Literal["draft", "final"] | None, Query(description="Only workflows in this state.")] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> Page[WorkflowSummary]:
    return await workflows.page(user.user_id, status, cursor, limit)


@router.get("/{workflow_id}", response_model=WorkflowOut, responses=answers(404))
async def get_workflow(workflow_id: uuid.UUID, user: User, workflows: WorkflowReadsDep) -> WorkflowOut:
    return await workflows.get(user.user_id, workflow_id)


@router.put("/{workflow_id}", response_model=WorkflowOut, responses=answers(404, 413, 503))
async def save_workflow(workflow_id: uuid.UUID, body: SaveIn, user: User, workflows: WorkflowsDep) -> WorkflowOut:
    return await workflows.replace(user.user_id, workflow_id, body)


@router.delete(
    "/{workflow_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=answers(404)
)
async def delete_workflow(workflow_id: uuid.UUID, user: User, workflows: WorkflowsDep) -> Response:
    await workflows.delete(user.user_id, workflow_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{workflow_id}/temp",
    response_model=WorkflowOut,
    summary="The working copy of the last temp save",
    responses=answers(404),
)
async def get_temp_copy(workflow_id: uuid.UUID, user: User, workflows: WorkflowsDep) -> WorkflowOut:
    return await workflows.get_temp(user.user_id, workflow_id)


@router.get("/{workflow_id}/versions", response_model=Page[VersionSummary], responses=answers(400, 404))
async def list_versions(
    workflow_id: uuid.UUID, user: User, workflows: WorkflowsDep, limit: LimitParam = 50, cursor: CursorParam = None
) -> Page[VersionSummary]:
    return await workflows.versions(user.user_id, workflow_id, cursor, limit)


@router.get("/{workflow_id}/versions/{version}", response_model=VersionOut, responses=answers(404))
async def get_version(
    workflow_id: uuid.UUID, version: VersionNumber, user: User, workflows: WorkflowsDep
) -> VersionOut:
    return await workflows.version(user.user_id, workflow_id, version)


@router.post("/{workflow_id}/versions/{version}/restore", response_model=WorkflowOut, responses=answers(404))
async def restore_version(
    workflow_id: uuid.UUID, version: VersionNumber, user: User, workflows: WorkflowsDep
) -> WorkflowOut:
    return await workflows.restore(user.user_id, workflow_id, version)
