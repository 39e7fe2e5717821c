"""Test-run wiring: one fresh database per run, migrated by the services' own migrations."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.servers import Servers, discover, fresh_database_url

TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-keys"

_servers: Servers = discover()
_base_db_url = _servers.database_url
DATABASE_URL = fresh_database_url(_base_db_url)

# Set before any service code reads its settings (they are read once per process).
os.environ.update(
    {
        "ECHO_DATABASE_URL": DATABASE_URL,
        "ECHO_AMQP_URL": _servers.amqp_url,
        "ECHO_MEMCACHED_SERVERS": _servers.memcached,
        "ECHO_JWT_SECRET": TEST_JWT_SECRET,
        # Queues and exchanges of this run only, so parallel runs on one RabbitMQ never share messages.
        "ECHO_BROKER_NAMESPACE": f"echotest.{DATABASE_URL.rsplit('_', 1)[-1]}",
        "ECHO_LOG_LEVEL": os.environ.get("ECHO_LOG_LEVEL", "WARNING"),
        "CREWAI_DISABLE_TELEMETRY": "true",
        "OTEL_SDK_DISABLED": "true",
        "CREWAI_TRACING_ENABLED": "false",
    }
)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.support.broker import delete_namespace

    delete_namespace(_servers.amqp_url, os.environ["ECHO_BROKER_NAMESPACE"])
    _servers.stop()


@pytest.fixture(scope="session")
def servers() -> Servers:
    return _servers


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A database for this run, built by every service's migrations (so the migrations are tested too)."""
    from shared import dbadmin, migrations

    asyncio.run(dbadmin.ensure_database(DATABASE_URL))
    for service in migrations.SERVICES:
        migrations.upgrade(service, "head", DATABASE_URL)
    yield DATABASE_URL
    asyncio.run(dbadmin.drop_database(DATABASE_URL))


@pytest.fixture(scope="session")
def base_database_url() -> str:
    return _base_db_url


@pytest.fixture
async def anyio_backend() -> AsyncIterator[str]:
    yield "asyncio"
