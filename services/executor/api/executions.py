from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from services.executor import service
from services.executor.api.deps import BrokerDep, EventsDep
from services.executor.repository import ExecutionRepository
from services.executor.schemas import CheckpointOut, CheckpointsOut, ExecutionOut, StepOut, StepsOut
from shared.auth import User
from shared.db import DbSession
from shared.pagination import CursorParam, LimitParam, Page

router = APIRouter(prefix="/executions", tags=["runs"])


@router.get("", response_model=Page[ExecutionOut])
async def list_executions(
    user: User,
    db: DbSession,
    workflow_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[str | None, Query(description="queued, running, paused, completed, failed or cancelled")] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> Page[ExecutionOut]:
    rows, next_cursor = await service.list_runs(
        db, user, workflow_id=workflow_id, status=status, cursor=cursor, limit=limit
    )
    return Page(items=[ExecutionOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{run_id}", response_model=ExecutionOut)
async def get_execution(run_id: uuid.UUID, user: User, db: DbSession) -> ExecutionOut:
    return ExecutionOut.model_validate(await service.get(db, user, run_id))


@router.post("/{run_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=ExecutionOut)
async def cancel_execution(
    run_id: uuid.UUID, user: User, db: DbSession, broker: BrokerDep, events: EventsDep
) -> ExecutionOut:
    """A queued run never starts; a running one stops at its next step boundary and ends `cancelled`."""
    return ExecutionOut.model_validate(await service.cancel(db, broker, events, user, run_id))


@router.get("/{run_id}/steps", response_model=StepsOut)
async def list_steps(run_id: uuid.UUID, user: User, db: DbSession) -> StepsOut:
    """The run's recorded steps, each a durable point (what a resumed run does not do again)."""
    run = await service.get(db, user, run_id)
    steps = await ExecutionRepository(db).steps(run_id)
    return StepsOut(
        run_id=run.run_id,
        status=run.status,  # type: ignore[arg-type]
        last_seq=run.last_seq,
        steps=[StepOut.model_validate(s) for s in steps],
    )


@router.get("/{run_id}/checkpoints", response_model=CheckpointsOut)
async def list_checkpoints(run_id: uuid.UUID, user: User, db: DbSession) -> CheckpointsOut:
    await service.get(db, user, run_id)
    rows = await ExecutionRepository(db).checkpoints(run_id)
    return CheckpointsOut(items=[CheckpointOut.model_validate(r) for r in rows])
