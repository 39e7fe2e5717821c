"""Live step events of a run: the late joiner's REST view and the WebSocket (CONTRACT §6)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, WebSocket

from services.gateway.clients import ExecutorUnavailable
from services.gateway.fanout import stream
from services.gateway.fanout.hub import Hub
from services.gateway.fanout.schemas import RunStepsOut
from shared.auth import User
from shared.errors import BadGateway, NotFound

router = APIRouter(tags=["runs"])

_NOT_FOUND = "No such run for this user; check the run_id returned by POST /workflows/chat/send."


@router.get("/workflows/execution/{run_id}/steps", response_model=RunStepsOut)
async def run_steps(run_id: uuid.UUID, user: User, request: Request) -> dict[str, Any]:
    """From this gateway's memory while it holds the run's events, else from the executor."""
    hub: Hub = request.app.state.fanout
    state = hub.registry.get(run_id)
    if state is not None:
        if state.user_id != user.user_id:
            raise NotFound(_NOT_FOUND)
        return state.snapshot()
    try:
        body = await hub.executor.steps(run_id, user)
    except ExecutorUnavailable:
        raise BadGateway(
            "The executor service is unreachable, so this run's steps cannot be read now; try again shortly.",
            error="upstream_unavailable",
        ) from None
    if body is None:
        raise NotFound(_NOT_FOUND)
    return body


@router.websocket("/ws/execution/{run_id}")
async def run_events(websocket: WebSocket, run_id: str) -> None:
    await stream.serve(websocket, websocket.app.state.fanout, websocket.app.state.settings, run_id)
