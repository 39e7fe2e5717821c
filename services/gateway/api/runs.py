"""Live step events of a run: the late joiner's REST view and the WebSocket."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response

from services.gateway.api.deps import RunSendsDep, RunStepsDep
from services.gateway.fanout import stream
from services.gateway.fanout.schemas import RunStepsOut
from shared.auth import User

router = APIRouter(tags=["runs"])


# Documented by the executor, whose answer this is (the merged document at /openapi.json has it).
@router.post("/workflows/chat/send", include_in_schema=False)
async def send(request: Request, sends: RunSendsDep) -> Response:
    """Forwarded to the executor like every other path; the new run's owner is remembered for its WebSocket."""
    return await sends.send(request)


@router.get("/workflows/execution/{run_id}/steps", response_model=RunStepsOut)
async def run_steps(run_id: uuid.UUID, user: User, runs: RunStepsDep) -> RunStepsOut:
    """From this gateway's memory while it holds the run's events, else from the executor."""
    return await runs.steps(run_id, user)


@router.websocket("/ws/execution/{run_id}")
async def run_events(websocket: WebSocket, run_id: str) -> None:
    await stream.serve(websocket, websocket.app.state.fanout, websocket.app.state.settings, run_id)
