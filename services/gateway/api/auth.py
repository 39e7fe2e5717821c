from __future__ import annotations

from fastapi import APIRouter, status

from services.gateway.api.deps import ClientAddress, IdentityDep
from services.gateway.schemas import LoginIn, RegisterIn, TokenOut, UserOut
from shared.auth import User

router = APIRouter(prefix="/auth", tags=["identity"])


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register(body: RegisterIn, identity: IdentityDep) -> UserOut:
    return UserOut.model_validate(await identity.register(body))


@router.post("/login", response_model=TokenOut)
async def login(body: LoginIn, identity: IdentityDep, address: ClientAddress) -> TokenOut:
    """429 with `Retry-After` once an account or a client address has too many failed logins in the window."""
    token, expires_in = await identity.login(body.email, body.password, address)
    return TokenOut(access_token=token, expires_in=expires_in)


@router.get("/me", response_model=UserOut)
async def me(user: User, identity: IdentityDep) -> UserOut:
    return await identity.me(user)
