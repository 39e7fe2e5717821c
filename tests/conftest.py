"""Test-run wiring. Unit tests need no server; integration and e2e tests ask for `servers` (directly or through
`database_url`), which finds PostgreSQL, RabbitMQ and Memcached, points every service setting at them and at a
fresh database, and cleans up after the run."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.servers import Servers, discover, fresh_database_url

TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-keys"

# Safe for every test: no server is contacted, and CrewAI must never phone home from a test process.
os.environ.update(
    {
        "ECHO_JWT_SECRET": TEST_JWT_SECRET,
        "ECHO_LOG_LEVEL": os.environ.get("ECHO_LOG_LEVEL", "WARNING"),
        "CREWAI_DISABLE_TELEMETRY": "true",
        "OTEL_SDK_DISABLED": "true",
        "CREWAI_TRACING_ENABLED": "false",
    }
)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    from shared.settings import get_settings
    from tests.support.broker import delete_namespace

    found = discover()
    database_url = fresh_database_url(found.database_url)
    base_database_url, found.database_url = found.database_url, database_url
    found.base_database_url = base_database_url
    namespace = f"echotest.{database_url.rsplit('_', 1)[-1]}"
    # Service settings are read once per process: set the environment, then forget any settings read before.
    os.environ.update(
        {
            "ECHO_DATABASE_URL": database_url,
            "ECHO_AMQP_URL": found.amqp_url,
            "ECHO_MEMCACHED_SERVERS": found.memcached,
            # Queues and exchanges of this run only, so parallel runs on one RabbitMQ never share messages.
            "ECHO_BROKER_NAMESPACE": namespace,
        }
    )
    get_settings.cache_clear()
    try:
        yield found
    finally:
        delete_namespace(found.amqp_url, namespace)
        found.stop()


@pytest.fixture(scope="session")
def database_url(servers: Servers) -> Iterator[str]:
    """A database for this run, built by every service's migrations (so the migrations are tested too)."""
    from shared import dbadmin, migrations

    asyncio.run(dbadmin.ensure_database(servers.database_url))
    for service in migrations.SERVICES:
        migrations.upgrade(service, "head", servers.database_url)
    yield servers.database_url
    asyncio.run(dbadmin.drop_database(servers.database_url))


@pytest.fixture(scope="session")
def base_database_url(servers: Servers) -> str:
    return servers.base_database_url


@pytest.fixture
async def anyio_backend() -> AsyncIterator[str]:
    yield "asyncio"
