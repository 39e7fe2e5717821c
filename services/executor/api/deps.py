"""How a request gets its service object: built from the request's database session and what the app holds."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor.clients import Upstream
from services.executor.repository import SendRepository
from services.executor.service import CheckpointService, ExecutionService, RunService
from shared.auth import CurrentUser, get_current_user
from shared.db import DbReadSession, DbSession

log = logging.getLogger("echoai.executor.deps")

UserDep = Annotated[CurrentUser, Depends(get_current_user)]


async def _send_statements(request: Request) -> AsyncIterator[SendRepository]:
    """The send's connection, kept until its answer has gone out (scope="request"), so the send lock it holds
    (`SendRepository.hold`) lets the consumer start the run only then: a run starting as soon as its row is
    written takes the CPU (its first step, its events, the gateway relaying them) from the answer still on its
    way. Its statements run in autocommit on the driver's connection (`SendRepository`)."""
    state = request.app.state
    engine: AsyncEngine = state.engine
    async with engine.connect() as conn:
        statements = SendRepository((await conn.get_raw_connection()).driver_connection)
        try:
            yield statements
        finally:
            try:
                await statements.release()
            except BaseException:
                # Closed rather than pooled: a connection still holding a send lock would stall that run.
                await conn.invalidate()
                log.warning("could not release a send lock; its connection was closed instead", exc_info=True)
            finally:
                state.sends.end(statements.held)


SendStatements = Annotated[SendRepository, Depends(_send_statements, scope="request")]


# `async` so FastAPI calls these on the event loop: a plain `def` dependency costs a worker-thread hop per request.
async def get_run_service(request: Request, statements: SendStatements, user: UserDep) -> RunService:
    state = request.app.state
    upstream = Upstream(state.http, state.settings, user)
    return RunService(
        statements, upstream, state.broker, state.settings, user, workflows=state.workflows, sends=state.sends
    )


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
