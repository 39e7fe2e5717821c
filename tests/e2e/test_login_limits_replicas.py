"""Failed-login limits are shared by gateway replicas: two gateway processes on one database, used alternately."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.platform import Platform, make_platform
from tests.support.servers import Servers

pytestmark = pytest.mark.e2e

# Long enough for eleven password checks on a busy machine, short enough to wait out.
WINDOW_SECONDS = 15
PASSWORD = "the-right-password"


@pytest.fixture(scope="module")
def replicas(database_url: str, servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    platforms: list[Platform] = []
    try:
        for i in range(2):
            log_dir = tmp_path_factory.mktemp(f"gateway-replica-{i}")
            p = make_platform(
                database_url,
                servers.amqp_url,
                servers.memcached,
                log_dir,
                ECHO_LOGIN_WINDOW_SECONDS=str(WINDOW_SECONDS),
            )
            p.start("gateway")
            platforms.append(p)
        for p in platforms:
            p.wait_healthy("gateway")
        yield [p.url for p in platforms]
    finally:
        for p in platforms:
            p.stop_all()


def test_eleven_wrong_passwords_over_two_replicas_then_429_until_the_window_ends(replicas: list[str]) -> None:
    email = f"replicas-{uuid.uuid4().hex[:10]}@example.com"
    with httpx.Client(timeout=30) as http:
        assert http.post(f"{replicas[0]}/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201

        def login(i: int, password: str) -> httpx.Response:
            return http.post(f"{replicas[i % 2]}/auth/login", json={"email": email, "password": password})

        codes = [login(i, f"wrong-{i}").status_code for i in range(10)]
        assert codes == [401] * 10
        r = login(10, "wrong-10")
        assert r.status_code == 429, r.text
        assert set(r.json()) == {"error", "detail"}
        retry_after = int(r.headers["retry-after"])
        assert 1 <= retry_after <= WINDOW_SECONDS
        # The right password does not get through either, on either replica.
        assert login(11, PASSWORD).status_code == 429
        assert login(12, PASSWORD).status_code == 429

        time.sleep(retry_after + 0.5)
        r = login(13, PASSWORD)
        assert r.status_code == 200, r.text
        assert r.json()["token_type"] == "bearer"
