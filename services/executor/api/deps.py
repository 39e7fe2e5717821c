"""How a request gets its service object: built from the request's database session and what the app holds."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from services.executor.clients import Upstream
from services.executor.sends import Sends, SendSlot
from services.executor.service import CheckpointService, ExecutionService, RunService
from shared.auth import CurrentUser, get_current_user
from shared.db import DbReadSession, DbSession

log = logging.getLogger("echoai.executor.deps")

UserDep = Annotated[CurrentUser, Depends(get_current_user)]


async def _send_slot(request: Request) -> AsyncIterator[SendSlot]:
    """A connection that holds the send lock of the new run's id (`sends.Sends`), kept until the send's answer
    has gone out (scope="request"): the lock lets the consumer start the run only then, since a run starting as
    soon as its row is written takes the CPU (its first step, its events, the gateway relaying them) from the
    answer still on its way."""
    sends: Sends = request.app.state.sends
    slot = await sends.take()
    try:
        yield slot
    finally:
        await sends.put_back(slot)


SendSlotDep = Annotated[SendSlot, Depends(_send_slot, scope="request")]


# `async` so FastAPI calls these on the event loop: a plain `def` dependency costs a worker-thread hop per request.
async def get_run_service(request: Request, slot: SendSlotDep, user: UserDep) -> RunService:
    state = request.app.state
    upstream = Upstream(state.http, state.settings, user)
    return RunService(slot, upstream, state.broker, state.settings, user, workflows=state.workflows)


async def get_execution_service(request: Request, db: DbSession, user: UserDep) -> ExecutionService:
    return ExecutionService(db, request.app.state.broker, request.app.state.events, user)


async def get_checkpoint_service(request: Request, db: DbSession, user: UserDep) -> CheckpointService:
    return CheckpointService(db, request.app.state.broker, request.app.state.events, user)


# For the routes that only read (a run, its steps, its checkpoints, lists of them): no BEGIN and COMMIT around
# their statements (`shared.db.read_session`). A transaction would buy them nothing at READ COMMITTED, where
# each statement reads its own snapshot anyway, and costs two round trips of every poll of a run's status.
async def get_execution_reads(request: Request, db: DbReadSession, user: UserDep) -> ExecutionService:
    return await get_execution_service(request, db, user)


async def get_checkpoint_reads(request: Request, db: DbReadSession, user: UserDep) -> CheckpointService:
    return await get_checkpoint_service(request, db, user)


RunServiceDep = Annotated[RunService, Depends(get_run_service)]
ExecutionServiceDep = Annotated[ExecutionService, Depends(get_execution_service)]
CheckpointServiceDep = Annotated[CheckpointService, Depends(get_checkpoint_service)]
ExecutionReadsDep = Annotated[ExecutionService, Depends(get_execution_reads)]
CheckpointReadsDep = Annotated[CheckpointService, Depends(get_checkpoint_reads)]
