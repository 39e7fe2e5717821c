"""The engine hands out no pooled connection PostgreSQL has closed, without pinging the server per checkout; a
read session runs without a transaction and hands its connection back as it found it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text

from shared.db import create_engine, make_sessionmaker, read_session, request_session
from shared.settings import Settings, get_settings

pytestmark = pytest.mark.integration


async def test_a_connection_the_server_closed_is_replaced_at_checkout(database_url: str) -> None:
    settings = Settings.model_validate({**get_settings().model_dump(), "database_url": database_url, "db_pool_size": 1})
    engine, admin = create_engine(settings), create_engine(settings)
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
        # The pool's one connection is idle now; the server ends it, as a restart or an idle timeout would.
        async with admin.connect() as other:
            assert await other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.5)  # asyncpg learns of the closed socket on the event loop
        async with engine.connect() as conn:
            second = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        await engine.dispose()
        await admin.dispose()


async def _xact_ids(dependency: Any, request: Any) -> tuple[int, int]:
    """The transaction ids of two statements run one after the other in the session `dependency` yields."""
    async for session in dependency(request):
        first = await session.scalar(text("SELECT pg_current_xact_id()::text::bigint"))
        second = await session.scalar(text("SELECT pg_current_xact_id()::text::bigint"))
    return first, second


async def test_a_read_session_runs_each_statement_on_its_own_and_leaves_the_pool_transactional(
    database_url: str,
) -> None:
    """What the read-only routes rely on: no BEGIN and COMMIT around their statements; and the connection goes
    back to the pool as it came, so the next request's writes are one transaction again."""
    settings = Settings.model_validate({**get_settings().model_dump(), "database_url": database_url, "db_pool_size": 1})
    engine = create_engine(settings)
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(sessionmaker=make_sessionmaker(engine))))
    try:
        first, second = await _xact_ids(read_session, request)
        assert first != second  # each statement was a transaction of its own
        first, second = await _xact_ids(request_session, request)  # the same pooled connection, pool of one
        assert first == second
    finally:
        await engine.dispose()
