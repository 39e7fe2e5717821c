from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.platform import Platform, make_platform
from tests.support.servers import Servers


# Package scope: the four processes stop when the e2e tests end, so their consumers and checkpoint sweepers never
# act on the integration tests that share this run's database and broker namespace.
@pytest.fixture(scope="package")
def platform(database_url: str, servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    log_dir: Path = tmp_path_factory.mktemp("platform")
    p = make_platform(database_url, servers.amqp_url, servers.memcached, log_dir)
    p.start_all()
    try:
        yield p
    finally:
        p.stop_all()


@pytest.fixture(scope="package")
def gateway(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.url, timeout=30) as client:
        yield client


def register_and_login(gateway: httpx.Client, email: str, password: str = "correct horse battery") -> dict[str, str]:
    r = gateway.post("/auth/register", json={"email": email, "password": password})
    assert r.status_code in (201, 409), r.text
    r = gateway.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
