"""Identity: registration and login. Password hashing is CPU-bound, so it runs off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.gateway.models import User
from services.gateway.repository import UserRepository
from services.gateway.schemas import RegisterIn
from shared.auth import CurrentUser, issue_token
from shared.errors import Conflict, NotFound, Unauthorized
from shared.settings import Settings

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a login takes as long whether or not the account exists.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


class IdentityService:
    """Accounts and tokens. Built per request by `api/deps.py`; never commits (the request does)."""

    def __init__(self, repo: UserRepository, settings: Settings):
        self.repo = repo
        self.settings = settings

    async def register(self, body: RegisterIn) -> User:
        password_hash = await asyncio.to_thread(_hasher.hash, body.password)
        user = await self.repo.create(body.email.lower(), password_hash, body.display_name)
        if user is None:
            raise Conflict("An account with this email already exists; log in instead.", error="email_taken")
        return user

    async def login(self, email: str, password: str) -> tuple[str, int]:
        user = await self.repo.by_email(email.lower())
        ok = await asyncio.to_thread(
            _verify, user.password_hash if user and user.password_hash else _DUMMY_HASH, password
        )
        if user is None or user.password_hash is None or not ok:
            raise Unauthorized("Wrong email or password.", error="invalid_credentials")
        return issue_token(user.user_id, self.settings)

    async def me(self, current: CurrentUser) -> User:
        user = await self.repo.by_id(current.user_id)
        if user is None:
            raise NotFound("The account behind this token no longer exists.", error="user_not_found")
        return user
