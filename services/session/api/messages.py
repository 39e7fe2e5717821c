from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from services.session.api.deps import SessionReadsDep, SessionServiceDep, send
from services.session.schemas import MessageIn, MessageOut, MessagePage
from shared.auth import User
from shared.pagination import CursorParam, LimitParam

router = APIRouter(prefix="/sessions/{session_id}/messages", tags=["messages"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MessageOut, summary="Append a message")
async def append_message(session_id: uuid.UUID, body: MessageIn, user: User, sessions: SessionServiceDep) -> Response:
    return send(await sessions.append(user.user_id, session_id, body), status.HTTP_201_CREATED)


@router.get("", summary="Messages after a seq, oldest first")
async def list_messages(
    session_id: uuid.UUID,
    user: User,
    sessions: SessionReadsDep,
    after_seq: int = Query(0, ge=0, le=2_000_000_000, description="Only messages with a greater seq."),
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> MessagePage:
    return await sessions.messages(user.user_id, session_id, after_seq=after_seq, cursor=cursor, limit=limit)


@router.delete(
    "/{message_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Take back the session's latest message (409 for any earlier one)",
)
async def delete_message(
    session_id: uuid.UUID, message_id: uuid.UUID, user: User, sessions: SessionServiceDep
) -> Response:
    await sessions.delete_message(user.user_id, session_id, message_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
