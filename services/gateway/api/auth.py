from __future__ import annotations

from fastapi import APIRouter, status

from services.gateway import service
from services.gateway.repository import UserRepository
from services.gateway.schemas import LoginIn, RegisterIn, TokenOut, UserOut
from shared.auth import User
from shared.db import DbSession

router = APIRouter(prefix="/auth", tags=["identity"])


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register(body: RegisterIn, db: DbSession) -> UserOut:
    return UserOut.model_validate(await service.register(UserRepository(db), body))


@router.post("/login", response_model=TokenOut)
async def login(body: LoginIn, db: DbSession) -> TokenOut:
    token, expires_in = await service.login(UserRepository(db), body.email, body.password)
    return TokenOut(access_token=token, expires_in=expires_in)


@router.get("/me", response_model=UserOut)
async def me(user: User, db: DbSession) -> UserOut:
    if user.anonymous:
        return UserOut(user_id=user.user_id, email="anonymous", display_name="Anonymous")
    return UserOut.model_validate(await service.me(UserRepository(db), user))
