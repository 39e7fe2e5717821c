from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import Response

from services.session.schemas import Checked
from services.session.service import SessionService
from shared.db import DbReadSession, DbSession


# `async` so FastAPI calls it on the event loop: a plain `def` dependency costs a worker-thread hop per request.
async def _service(request: Request, db: DbSession) -> SessionService:
    settings = request.app.state.settings
    return SessionService(db, request.app.state.cache, inline_bytes=settings.session_cache_inline_bytes)


async def _reads(request: Request, db: DbReadSession) -> SessionService:
    """For the routes that only read: no BEGIN and COMMIT around their statements (`shared.db.read_session`); at
    READ COMMITTED a transaction gives a read no other snapshot than its statements' own."""
    return await _service(request, db)


SessionServiceDep = Annotated[SessionService, Depends(_service)]
SessionReadsDep = Annotated[SessionService, Depends(_reads)]
ToolIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00]+$", description="The tool's id.")]


def send(checked: Checked[Any], status_code: int = 200) -> Response:
    """A body already checked against the route's response model (see schemas.check), sent without re-encoding."""
    return Response(content=checked.body, status_code=status_code, media_type="application/json")
