"""Async SQLAlchemy: engine per process (made in lifespan), one session per request.

The request dependency commits when the endpoint returns and rolls back when it raises; services never commit.
Work that must only happen once the data is durable (cache invalidation, broker publishes) is registered
with `after_commit` and runs right after the commit, before the response is sent.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from asyncpg.exceptions._base import DataError as ClientDataError
from fastapi import Depends, Request
from sqlalchemy import MetaData, TextClause, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

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
        connect_args={"timeout": 5, "command_timeout": 30},
        **kwargs,
    )
    event.listen(engine.sync_engine.pool, "checkout", _drop_closed)
    return engine


def _drop_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Hand out no pooled connection that PostgreSQL has closed (a restart, an idle timeout): asyncpg knows it
    without a round trip. `pool_pre_ping` would ask the server instead, at three round trips per checkout with
    asyncpg (BEGIN, a ping, ROLLBACK), as many as the request's own work. A connection that dies unnoticed
    fails its first statement, and SQLAlchemy then replaces every pooled connection of that age."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the pooled connection was closed by the server")


@dataclass(frozen=True)
class DriverStatement:
    """A `text()` statement as asyncpg itself takes it: `$n` placeholders, and the parameter names in their order.

    For the few statements on a hot path: run through the session, a statement costs SQLAlchemy's session and
    result handling on top of its round trip (about 0.5 ms of CPU on a 2-core machine, more than the round trip).
    The SQL is the one SQLAlchemy compiles for asyncpg, so it is written once, as a `text()`, like every other."""

    sql: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, statement: TextClause) -> DriverStatement:
        compiled = statement.compile(dialect=asyncpg_dialect())
        return cls(str(compiled), tuple(compiled.positiontup or ()))

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]


async def driver_of(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a pooled one; it stays the pool's, released with `conn`."""
    return (await conn.get_raw_connection()).driver_connection


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session's, in autocommit: for a unit of work that is this one statement
    (and must be the session's first, before anything began a transaction on it)."""
    return await driver_of(await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"}))


def make_sessionmaker(engine: AsyncEngine, *, autocommit: bool = False) -> async_sessionmaker[AsyncSession]:
    """`autocommit`: every statement commits on its own, with no BEGIN and COMMIT round trips; only for units of
    work that are one statement (the pool is shared with the engine's other sessions)."""
    if autocommit:
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
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


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(request.app.state.sessionmaker) as session:
        yield session


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session on an autocommit connection, for an endpoint that reads with a single statement: one statement
    is consistent on its own, so the BEGIN and COMMIT a transaction costs (two more round trips, as many as the
    read itself) buy nothing. Never for writes: each statement would commit on its own."""
    async with request.app.state.sessionmaker() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


# scope="function": the commit happens before the response leaves, so a client that got its answer can rely on it.
DbSession = Annotated[AsyncSession, Depends(request_session, scope="function")]
# scope="function": the connection goes back to the pool before the response leaves.
DbReadSession = Annotated[AsyncSession, Depends(read_session, scope="function")]


# SQLSTATE classes of an outage rather than of a request: connection exceptions (08), insufficient resources
# such as too many connections (53), operator intervention such as a shutdown or "starting up" (57P), and
# system errors (58).
_OUTAGE_SQLSTATES = ("08", "53", "57P", "58")
# Data exceptions (22: NUL or invalid text, numbers out of range) and program limits (54: e.g. stack depth on a
# deeply nested JSON value) are caused by the values a request sent.
_BAD_VALUE_SQLSTATES = ("22", "54")


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, what SQLAlchemy wrapped (`.orig`), and their causes, each once."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen or len(seen) > 20:
            continue
        seen.add(id(current))
        yield current
        for nxt in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return state if isinstance(state, str) else None


def _raised_by_driver(error: BaseException) -> bool:
    """True when the error came up through asyncpg or SQLAlchemy (not, say, a file write or the cache)."""
    tb = error.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("asyncpg", "sqlalchemy")):
            return True
        tb = tb.tb_next
    return False


def is_database_outage(error: BaseException) -> bool:
    """PostgreSQL cannot be reached, is restarting or is out of connections, as opposed to a request it refused."""
    for current in _chain(error):
        if isinstance(current, sa_exc.TimeoutError):  # no pooled connection came free in time
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.OperationalError):
            return True
        if isinstance(current, asyncpg.exceptions.ConnectionDoesNotExistError | asyncpg.PostgresConnectionError):
            return True
        state = _sqlstate(current)
        if state is not None and state.startswith(_OUTAGE_SQLSTATES):
            return True
        if isinstance(current, OSError | TimeoutError) and _raised_by_driver(current):
            return True
    return False


def is_bad_value(error: BaseException) -> bool:
    """PostgreSQL (or the driver encoding a parameter for it) refused a value the request carried."""
    for current in _chain(error):
        if isinstance(current, ClientDataError):  # the driver could not encode it, e.g. an int beyond int4
            return True
        if isinstance(current, UnicodeEncodeError) and _raised_by_driver(current):
            return True
        state = _sqlstate(current)
        if state is not None and state.startswith(_BAD_VALUE_SQLSTATES):
            return True
    return False
