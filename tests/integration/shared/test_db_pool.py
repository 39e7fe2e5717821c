"""The engine hands out no pooled connection PostgreSQL has closed, without pinging the server per checkout."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from shared.db import create_engine
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
