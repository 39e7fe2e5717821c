"""Async SQLAlchemy: engine per process (made in lifespan), one session per request.

The request dependency commits when the endpoint returns and rolls back when it raises; services never commit.
Work that must only happen once the data is durable (cache invalidation, broker publishes) is registered
with `after_commit` and runs right after the commit, before the response is sent.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import MetaData, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.settings import Settings

log = logging.getLogger("echoai.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size * 2,
        # Not SQLAlchemy's pre-ping: with asyncpg it costs three round trips (BEGIN, a ping, ROLLBACK) before every
        # transaction, about half of a short transaction's time. `_drop_closed` does the useful part for free.
        pool_pre_ping=False,
        connect_args={"timeout": 5, "command_timeout": 30},
        **kwargs,
    )
    event.listen(engine.sync_engine, "checkout", _drop_closed)
    return engine


def _drop_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the server closed (a restart, an idle timeout, a terminated backend) is known to
    asyncpg as soon as the event loop reads the close, without a round trip: replace it before use. A connection
    that breaks without a close (a lost network path) fails its first statement instead, and SQLAlchemy then
    discards the whole pool."""
    raw = getattr(dbapi_connection, "_connection", None)  # asyncpg's Connection inside SQLAlchemy's adapter
    if raw is not None and raw.is_closed():
        raise DisconnectionError("the database closed this pooled connection")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    session.info.setdefault("after_commit", []).append(hook)


async def commit(session: AsyncSession) -> None:
    """Commit, then run the after-commit hooks; a failing hook is logged, never undoes the commit."""
    await session.commit()
    hooks: list[AfterCommit] = session.info.pop("after_commit", [])
    for hook in hooks:
        try:
            await hook()
        except Exception:
            log.exception("after-commit hook failed")


@contextlib.asynccontextmanager
async def transaction(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """The one way to run a unit of work: commit when the block ends, then the after-commit hooks; roll back and
    drop the hooks when it raises. Requests, consumers and the runner all go through here, so a publish or a
    cache invalidation registered with `after_commit` is never skipped and never runs for rolled-back work."""
    async with maker() as session:
        try:
            yield session
        except BaseException:
            session.info.pop("after_commit", None)
            await session.rollback()
            raise
        await commit(session)


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(request.app.state.sessionmaker) as session:
        yield session


# scope="function": the commit happens before the response leaves, so a client that got its answer can rely on it.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
