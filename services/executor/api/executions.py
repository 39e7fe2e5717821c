from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from services.executor.api.deps import CheckpointReadsDep, CheckpointServiceDep, ExecutionReadsDep, ExecutionServiceDep
from services.executor.schemas import (
    CheckpointOut,
    CheckpointsOut,
    DecisionIn,
    ExecutionOut,
    StepOut,
    StepsOut,
)
from shared.pagination import CursorParam, LimitParam, Page

router = APIRouter(prefix="/executions", tags=["runs"])


@router.get("", response_model=Page[ExecutionOut])
async def list_executions(
    executions: ExecutionReadsDep,
    workflow_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[str | None, Query(description="queued, running, paused, completed, failed or cancelled")] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> Page[ExecutionOut]:
    rows, next_cursor = await executions.list(workflow_id=workflow_id, status=status, cursor=cursor, limit=limit)
    return Page(items=[ExecutionOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{run_id}", response_model=ExecutionOut)
async def get_execution(run_id: uuid.UUID, executions: ExecutionReadsDep) -> ExecutionOut:
    return ExecutionOut.model_validate(await executions.get(run_id))


@router.post("/{run_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=ExecutionOut)
async def cancel_execution(run_id: uuid.UUID, executions: ExecutionServiceDep) -> ExecutionOut:
    """A queued run never starts; a paused one ends at once (its pending checkpoints become `cancelled`); a
    running one stops at its next step boundary. Every way it ends `cancelled`. A finished run is 409."""
    return ExecutionOut.model_validate(await executions.cancel(run_id))


@router.get("/{run_id}/steps", response_model=StepsOut)
async def list_steps(run_id: uuid.UUID, executions: ExecutionReadsDep) -> StepsOut:
    """The run's recorded steps, each a durable point (what a resumed run does not do again)."""
    run, steps = await executions.steps(run_id)
    return StepsOut(
        run_id=run.run_id,
        status=run.status,  # type: ignore[arg-type]
        last_seq=run.last_seq,
        steps=[StepOut.model_validate(s) for s in steps],
    )


@router.get("/{run_id}/checkpoints", response_model=CheckpointsOut)
async def list_checkpoints(run_id: uuid.UUID, checkpoints: CheckpointReadsDep) -> CheckpointsOut:
    return CheckpointsOut(items=[CheckpointOut.model_validate(c) for c in await checkpoints.of_run(run_id)])


@router.post("/{run_id}/checkpoints/{checkpoint_id}/decision", response_model=CheckpointOut)
async def decide(
    run_id: uuid.UUID, checkpoint_id: uuid.UUID, body: DecisionIn, checkpoints: CheckpointServiceDep
) -> CheckpointOut:
    """approve: the run goes on with the step's output; edit: with `output` instead (every later step sees it);
    reject: the run ends `failed` with `comment` as its error. A decision is final: a second one is 409, as is
    deciding on a run that was cancelled."""
    decided = await checkpoints.decide(
        run_id, checkpoint_id, action=body.action, output=body.output, comment=body.comment
    )
    return CheckpointOut.model_validate(decided)
