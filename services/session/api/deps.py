from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import Response

from services.session.service import SessionService
from shared.db import DbSession


def _service(request: Request, db: DbSession) -> SessionService:
    settings = request.app.state.settings
    return SessionService(db, request.app.state.cache, inline_bytes=settings.session_cache_inline_bytes)


Sessions = Annotated[SessionService, Depends(_service)]
ToolIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00]+$", description="The tool's id.")]


def json_body(body: str | bytes, status_code: int = 200) -> Response:
    """A JSON text rendered by PostgreSQL (or taken from the cache), sent as it is."""
    return Response(content=body, status_code=status_code, media_type="application/json")
