from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import LoginAttempt, User


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


@dataclass(frozen=True, slots=True)
class AttemptCount:
    scope: str
    failures: int
    window_started_at: datetime
    now: datetime  # the database's clock, the one every replica shares


class LoginAttemptRepository:
    """Counters of login attempts, one row per (scope, subject), each with a fixed window from its first attempt."""

    def __init__(self, session: AsyncSession):
        self.session = session

    async def count(self, keys: list[tuple[str, str]], window_seconds: int) -> list[AttemptCount]:
        """Add one attempt to each key in one statement (a window that has run out starts again at one) and return
        the counts after it. Row locks are taken in the order of `keys`, so concurrent logins cannot deadlock."""
        window_start = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, window_seconds)
        stale = LoginAttempt.window_started_at <= window_start
        rows = [{"scope": s, "subject": k, "failures": 1, "window_started_at": func.now()} for s, k in keys]
        upsert = insert(LoginAttempt).values(rows)
        stmt = upsert.on_conflict_do_update(
            index_elements=[LoginAttempt.scope, LoginAttempt.subject],
            set_={
                "failures": case((stale, 1), else_=LoginAttempt.failures + 1),
                "window_started_at": case((stale, func.now()), else_=LoginAttempt.window_started_at),
            },
        ).returning(LoginAttempt.scope, LoginAttempt.failures, LoginAttempt.window_started_at, func.now())
        counted = (await self.session.execute(stmt)).all()
        return [AttemptCount(r[0], r[1], r[2], r[3]) for r in counted]

    async def forget(self, scope: str, subject: str) -> None:
        await self.session.execute(
            delete(LoginAttempt).where(LoginAttempt.scope == scope, LoginAttempt.subject == subject)
        )

    async def take_back(self, scope: str, subject: str) -> None:
        """Remove one attempt from a key (one that turned out right)."""
        await self.session.execute(
            update(LoginAttempt)
            .where(LoginAttempt.scope == scope, LoginAttempt.subject == subject, LoginAttempt.failures > 0)
            .values(failures=LoginAttempt.failures - 1)
        )

    async def sweep(self, window_seconds: int) -> None:
        """Drop counters whose window has run out; they would start again at one anyway."""
        window_start = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, window_seconds)
        await self.session.execute(delete(LoginAttempt).where(LoginAttempt.window_started_at <= window_start))
