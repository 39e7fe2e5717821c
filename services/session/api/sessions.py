from __future__ import annotations

import uuid

from fastapi import APIRouter, Body, Query, status
from fastapi.responses import Response

from services.session.api.deps import SessionReadsDep, SessionServiceDep, ToolIdPath, send
from services.session.schemas import (
    ContextIn,
    ContextType,
    JsonObject,
    RunIdsOut,
    RunIn,
    RunSetupOut,
    SessionCreate,
    SessionOut,
    SessionPage,
    TitleIn,
    ToolConfigIn,
    ToolConfigOut,
    ToolConfigPage,
    ToolsIn,
    ToolsOut,
    VariablesOut,
)
from shared.auth import User
from shared.pagination import CursorParam, LimitParam

router = APIRouter(prefix="/sessions", tags=["sessions"])

# Routes answering a whole session send PostgreSQL's JSON after checking it against `SessionOut` (see
# schemas.check); the others return their model and FastAPI validates and dumps it.


@router.get("", summary="List your sessions, newest activity first, without messages")
async def list_sessions(
    user: User,
    sessions: SessionReadsDep,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
    context_type: ContextType | None = None,
    context_id: str | None = Query(None, max_length=200),
) -> SessionPage:
    return await sessions.list_sessions(
        user.user_id, limit=limit, cursor=cursor, context_type=context_type, context_id=context_id
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
async def create_session(body: SessionCreate, user: User, sessions: SessionServiceDep) -> Response:
    return send(await sessions.create(user.user_id, body), status.HTTP_201_CREATED)


@router.get("/{session_id}", response_model=SessionOut, summary="A session with all its messages")
async def get_session(session_id: uuid.UUID, user: User, sessions: SessionReadsDep) -> Response:
    return send(await sessions.get(user.user_id, session_id))


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(session_id: uuid.UUID, user: User, sessions: SessionServiceDep) -> Response:
    await sessions.delete(user.user_id, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/{session_id}/title", response_model=SessionOut)
async def set_title(session_id: uuid.UUID, body: TitleIn, user: User, sessions: SessionServiceDep) -> Response:
    return send(await sessions.set_title(user.user_id, session_id, body.title))


@router.patch("/{session_id}/context", response_model=SessionOut)
async def set_context(session_id: uuid.UUID, body: ContextIn, user: User, sessions: SessionServiceDep) -> Response:
    return send(await sessions.set_context(user.user_id, session_id, body))


@router.patch(
    "/{session_id}/variables",
    summary="JSON merge patch (RFC 7396) of the variables: null removes a key, nested objects merge",
    openapi_extra={"requestBody": {"content": {"application/merge-patch+json": {"schema": {"type": "object"}}}}},
)
async def patch_variables(
    session_id: uuid.UUID, user: User, sessions: SessionServiceDep, patch: JsonObject = Body(...)
) -> VariablesOut:
    return await sessions.patch_variables(user.user_id, session_id, patch)


@router.post("/{session_id}/tools", summary="Replace the session's tool selection")
async def set_tools(session_id: uuid.UUID, body: ToolsIn, user: User, sessions: SessionServiceDep) -> ToolsOut:
    return await sessions.set_tools(user.user_id, session_id, body.tool_ids)


@router.get("/{session_id}/tools/configs")
async def list_tool_configs(
    session_id: uuid.UUID, user: User, sessions: SessionReadsDep, limit: LimitParam = 50, cursor: CursorParam = None
) -> ToolConfigPage:
    return await sessions.list_tool_configs(user.user_id, session_id, limit=limit, cursor=cursor)


@router.get(
    "/{session_id}/run-setup",
    response_model=RunSetupOut,
    summary="What a run of this session uses: variables, selected tools, tool configs (no messages)",
)
async def run_setup(session_id: uuid.UUID, user: User, sessions: SessionReadsDep) -> Response:
    return send(await sessions.run_setup(user.user_id, session_id))


@router.put("/{session_id}/tools/{tool_id}/config", summary="Set (upsert) a tool config")
async def put_tool_config(
    session_id: uuid.UUID, tool_id: ToolIdPath, body: ToolConfigIn, user: User, sessions: SessionServiceDep
) -> ToolConfigOut:
    return await sessions.put_tool_config(user.user_id, session_id, tool_id, body.config)


@router.delete("/{session_id}/tools/{tool_id}/config", status_code=status.HTTP_204_NO_CONTENT)
async def delete_tool_config(
    session_id: uuid.UUID, tool_id: ToolIdPath, user: User, sessions: SessionServiceDep
) -> Response:
    await sessions.delete_tool_config(user.user_id, session_id, tool_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{session_id}/run", summary="Record a run of this session (idempotent)")
async def record_run(session_id: uuid.UUID, body: RunIn, user: User, sessions: SessionServiceDep) -> RunIdsOut:
    return await sessions.record_run(user.user_id, session_id, body.run_id)
