"""Where the real PostgreSQL, RabbitMQ and Memcached are.

`ECHO_*` URLs win; without them the local defaults are used when they answer, and testcontainers starts the
server only on a machine where a Docker engine answers and nothing listens locally.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from sqlalchemy.engine import make_url

DEFAULT_DB = "postgresql+asyncpg://postgres@127.0.0.1:5432/echoai"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_MEMCACHED = "127.0.0.1:11211"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def docker_available() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
        return True
    except Exception:
        return False


@dataclass
class Servers:
    database_url: str
    amqp_url: str
    memcached: str
    _containers: list[Any] = field(default_factory=list)
    # The server's own database URL, before the run's fresh database was named.
    base_database_url: str = ""

    def stop(self) -> None:
        for container in self._containers:
            container.stop()


def discover() -> Servers:
    containers: list[Any] = []
    db = os.environ.get("ECHO_DATABASE_URL", DEFAULT_DB)
    u = make_url(db)
    if (
        "ECHO_DATABASE_URL" not in os.environ
        and not port_open(u.host or "127.0.0.1", u.port or 5432)
        and docker_available()
    ):
        from testcontainers.postgres import PostgresContainer

        pg = PostgresContainer("postgres:16-alpine", driver="asyncpg").start()
        containers.append(pg)
        db = pg.get_connection_url()
    amqp = os.environ.get("ECHO_AMQP_URL", DEFAULT_AMQP)
    a = urlparse(amqp)
    if (
        "ECHO_AMQP_URL" not in os.environ
        and not port_open(a.hostname or "127.0.0.1", a.port or 5672)
        and docker_available()
    ):
        from testcontainers.rabbitmq import RabbitMqContainer

        rmq = RabbitMqContainer("rabbitmq:3.13-management").start()
        containers.append(rmq)
        amqp = f"amqp://guest:guest@{rmq.get_container_host_ip()}:{rmq.get_exposed_port(5672)}/"
    mc = os.environ.get("ECHO_MEMCACHED_SERVERS", DEFAULT_MEMCACHED)
    host, _, port = mc.split(",")[0].rpartition(":")
    if "ECHO_MEMCACHED_SERVERS" not in os.environ and not port_open(host, int(port)) and docker_available():
        from testcontainers.memcached import MemcachedContainer

        mcc = MemcachedContainer().start()
        containers.append(mcc)
        mc = f"{mcc.get_container_host_ip()}:{mcc.get_exposed_port(11211)}"
    return Servers(db, amqp, mc, containers)


def fresh_database_url(base_url: str) -> str:
    """Same server, a database of its own for this test run."""
    return make_url(base_url).set(database=f"echoai_test_{uuid.uuid4().hex[:10]}").render_as_string(hide_password=False)


def memcached_up(servers: str) -> bool:
    host, _, port = servers.split(",")[0].rpartition(":")
    return port_open(host, int(port))
