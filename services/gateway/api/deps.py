"""What the gateway's endpoints take from the app and the request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.repository import UserRepository
from services.gateway.service import IdentityService
from shared.db import DbSession


def get_identity(request: Request, db: DbSession) -> IdentityService:
    return IdentityService(UserRepository(db), request.app.state.settings)


IdentityDep = Annotated[IdentityService, Depends(get_identity)]
