from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import User


class UserRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def create(self, email: str, password_hash: str, display_name: str | None) -> User | None:
        """Insert a user; None when the email is taken (decided by the unique constraint, not a prior read)."""
        stmt = (
            insert(User)
            .values(user_id=uuid.uuid4(), email=email, password_hash=password_hash, display_name=display_name)
            .on_conflict_do_nothing(index_elements=[User.email])
            .returning(User)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_email(self, email: str) -> User | None:
        return (await self.session.execute(select(User).where(User.email == email))).scalar_one_or_none()

    async def by_id(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)
