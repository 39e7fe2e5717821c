"""How a request gets its service object: built from the request's database session and what the app holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.executor.clients import Upstream
from services.executor.service import CheckpointService, ExecutionService, RunService
from shared.auth import CurrentUser, get_current_user
from shared.db import DbSession

UserDep = Annotated[CurrentUser, Depends(get_current_user)]


def get_run_service(request: Request, db: DbSession, user: UserDep) -> RunService:
    state = request.app.state
    return RunService(db, Upstream(state.http, state.settings, user), state.broker, state.settings, user)


def get_execution_service(request: Request, db: DbSession, user: UserDep) -> ExecutionService:
    return ExecutionService(db, request.app.state.broker, request.app.state.events, user)


def get_checkpoint_service(request: Request, db: DbSession, user: UserDep) -> CheckpointService:
    return CheckpointService(db, request.app.state.broker, request.app.state.events, user)


RunServiceDep = Annotated[RunService, Depends(get_run_service)]
ExecutionServiceDep = Annotated[ExecutionService, Depends(get_execution_service)]
CheckpointServiceDep = Annotated[CheckpointService, Depends(get_checkpoint_service)]
