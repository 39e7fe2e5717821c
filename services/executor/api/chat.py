from __future__ import annotations

from fastapi import APIRouter, status

from services.executor import service
from services.executor.api.deps import BrokerDep, SettingsDep, UpstreamDep
from services.executor.schemas import SendIn, SendOut
from shared.auth import User
from shared.db import DbSession

router = APIRouter(prefix="/workflows/chat", tags=["runs"])


@router.post("/send", status_code=status.HTTP_202_ACCEPTED, response_model=SendOut)
async def send(
    body: SendIn, user: User, db: DbSession, broker: BrokerDep, upstream: UpstreamDep, settings: SettingsDep
) -> SendOut:
    """Queue a run of the workflow. Answers once the run request is durably in the broker (503 if it is away)."""
    return await service.send(db, upstream, broker, settings, user, body)
