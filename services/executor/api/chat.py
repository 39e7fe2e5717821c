from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, status

from services.executor.api.deps import RunServiceDep
from services.executor.schemas import SendIn, SendOut

router = APIRouter(prefix="/workflows/chat", tags=["runs"])


@router.post("/send", status_code=status.HTTP_202_ACCEPTED, response_model=SendOut)
async def send(body: SendIn, runs: RunServiceDep, after: BackgroundTasks) -> SendOut:
    """Queue a run of the workflow. Answers once the run request is durably in the broker (503 if it is away)."""
    sent = await runs.send(body)
    # Before the send lock is let go (the request-scoped `_send_slot` ends after it), so the run starts as before.
    after.add_task(runs.after_answer, sent)
    return sent
