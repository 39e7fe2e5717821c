from __future__ import annotations

from fastapi import APIRouter, status

from services.executor.api.deps import RunServiceDep
from services.executor.schemas import SendIn, SendOut

router = APIRouter(prefix="/workflows/chat", tags=["runs"])


@router.post("/send", status_code=status.HTTP_202_ACCEPTED, response_model=SendOut)
async def send(body: SendIn, runs: RunServiceDep) -> SendOut:
    """Queue a run of the workflow. Answers once the run request is durably in the broker (503 if it is away)."""
    return await runs.send(body)
