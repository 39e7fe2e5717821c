from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.executor.api.deps import CheckpointReadsDep
from services.executor.schemas import CheckpointOut
from shared.pagination import CursorParam, LimitParam, Page

router = APIRouter(prefix="/checkpoints", tags=["runs"])


@router.get("", response_model=Page[CheckpointOut])
async def inbox(
    checkpoints: CheckpointReadsDep,
    status: Annotated[
        str | None, Query(description="pending, approved, edited, rejected or cancelled; all when absent")
    ] = None,
    workflow_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> Page[CheckpointOut]:
    """The caller's checkpoints across all their runs, newest first: an approvals page from one call."""
    rows, next_cursor = await checkpoints.inbox(status=status, workflow_id=workflow_id, cursor=cursor, limit=limit)
    return Page(items=[CheckpointOut.model_validate(c) for c in rows], next_cursor=next_cursor)
