"""Check that PostgreSQL and RabbitMQ answer before starting the platform; Memcached is optional."""

from __future__ import annotations

import socket
import sys
from urllib.parse import urlparse

from sqlalchemy.engine import make_url

from shared.settings import Settings

HINT = "Start it with `docker compose up -d postgres rabbitmq memcached` where Docker exists, or locally with"


def _open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    # Not get_settings(): its warning about a missing JWT secret is for the services, which `make run` gives one.
    s = Settings()
    db = make_url(s.database_url)
    if not _open(db.host or "127.0.0.1", db.port or 5432):
        where = f"{db.host}:{db.port or 5432}"
        print(
            f"PostgreSQL is not reachable at {where}. {HINT} `pg_ctlcluster 15 main start`, or set ECHO_DATABASE_URL."
        )
        return 1
    amqp = urlparse(s.amqp_url)
    if not _open(amqp.hostname or "127.0.0.1", amqp.port or 5672):
        where = f"{amqp.hostname}:{amqp.port or 5672}"
        print(
            f"RabbitMQ is not reachable at {where}. {HINT} `rabbitmq-server -detached`, or set ECHO_AMQP_URL.",
            file=sys.stderr,
        )
        return 1
    if s.cache_enabled:
        host, port = s.memcached_server_list[0]
        if not _open(host, port):
            print(
                f"warning: Memcached is not reachable at {host}:{port}; sessions are served from PostgreSQL only "
                "(start it with `memcached -d -m 64`, or set ECHO_CACHE_ENABLED=false).",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
