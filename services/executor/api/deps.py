"""How a request gets its service object: built from the request's database session and what the app holds."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from services.executor.clients import Upstream
from services.executor.repository import release_send_holds
from services.executor.service import CheckpointService, ExecutionService, RunService
from shared.auth import CurrentUser, get_current_user
from shared.db import DbReadSession, DbSession, transaction

log = logging.getLogger("echoai.executor.deps")

UserDep = Annotated[CurrentUser, Depends(get_current_user)]


async def _send_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """The send's connection, kept until its answer has gone out (scope="request"), so the send lock it holds
    (`ExecutionRepository.hold_send`) lets the consumer start the run only then: a run starting as soon as its
    row is written takes the CPU (its first step, its events, the gateway relaying them) from the answer still on
    its way."""
    engine: AsyncEngine = request.app.state.engine
    async with engine.connect() as conn:
        try:
            yield conn
        finally:
            try:
                await release_send_holds(conn)
            except BaseException:
                # Closed rather than pooled: a connection still holding a send lock would stall that run.
                await conn.invalidate()
                log.warning("could not release a send lock; its connection was closed instead", exc_info=True)


SendConnection = Annotated[AsyncConnection, Depends(_send_connection, scope="request")]


async def _send_session(conn: SendConnection) -> AsyncIterator[AsyncSession]:
    """On the send's connection, in autocommit: a send's only write is the row, one statement issued last, once
    everything else succeeded (`RunService.send`), so it commits on its own and the send spends no BEGIN or
    COMMIT round trip. `transaction` still runs the after-commit hooks before the answer."""
    await conn.execution_options(isolation_level="AUTOCOMMIT")
    async with transaction(async_sessionmaker(bind=conn, expire_on_commit=False)) as session:
        yield session


SendSession = Annotated[AsyncSession, Depends(_send_session, scope="function")]


# `async` so FastAPI calls these on the event loop: a plain `def` dependency costs a worker-thread hop per request.
async def get_run_service(request: Request, db: SendSession, user: UserDep) -> RunService:
    state = request.app.state
    upstream = Upstream(state.http, state.settings, user)
    return RunService(db, upstream, state.broker, state.settings, user, workflows=state.workflows)


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
