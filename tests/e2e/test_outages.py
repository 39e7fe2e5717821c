"""A stopped service is a quick 502 JSON error through the proxy; Memcached away is reported, not fatal;
PostgreSQL away is a 503 `database_unavailable` from every service, healed without a restart."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.conftest import register_and_login
from tests.support.auth import headers_for
from tests.support.platform import Platform, free_port, make_platform
from tests.support.servers import Servers, port_open

pytestmark = pytest.mark.e2e


@pytest.fixture
def lonely_gateway(database_url: str, servers: Servers, tmp_path) -> Platform:  # type: ignore[no-untyped-def]
    """A gateway whose upstreams point at ports nobody listens on."""
    p = make_platform(database_url, servers.amqp_url, servers.memcached, tmp_path)
    p.ports.update({"workflow": free_port(), "session": free_port(), "executor": free_port()})
    p.env.update({f"ECHO_{n.upper()}_PORT": str(p.ports[n]) for n in ("workflow", "session", "executor")})
    p.start("gateway")
    p.wait_healthy("gateway")
    yield p  # type: ignore[misc]
    p.stop_all()


def test_proxy_to_stopped_service_is_502_json(lonely_gateway: Platform) -> None:
    headers = headers_for(uuid.uuid4())
    for path in ("/workflows", "/sessions", "/executions", "/agents", "/tools"):
        started = time.monotonic()
        r = httpx.get(lonely_gateway.url + path, headers=headers, timeout=10)
        assert r.status_code == 502, (path, r.text)
        assert r.json()["error"] == "upstream_unavailable"
        assert time.monotonic() - started < 3
    services = httpx.get(lonely_gateway.url + "/health/services", timeout=10).json()
    assert services["status"] == "degraded"
    assert services["services"]["workflow"]["status"] == "down"


def test_cache_down_and_disabled(database_url: str, servers: Servers, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The session service is the one that uses Memcached; the others say they do not.
    dead = f"127.0.0.1:{free_port()}"
    p = make_platform(database_url, servers.amqp_url, dead, tmp_path)
    p.start("session")
    p.start("gateway")
    p.wait_healthy("session")
    p.wait_healthy("gateway")
    try:
        r = httpx.get(p.service_url("session") + "/health/cache", timeout=10)
        assert r.status_code == 503
        assert r.json()["status"] == "down"
        # The rest keeps answering.
        assert httpx.get(p.service_url("session") + "/health/db", timeout=10).status_code == 200
        assert (
            httpx.post(p.url + "/auth/login", json={"email": "x@y.io", "password": "whatever1"}, timeout=10).status_code
            == 401
        )
        r = httpx.get(p.url + "/health/cache", timeout=10)
        assert r.status_code == 200
        assert r.json() == {"status": "disabled", "detail": "this service does not use the cache"}
    finally:
        p.stop_all()
    p = make_platform(database_url, servers.amqp_url, servers.memcached, tmp_path, ECHO_CACHE_ENABLED="false")
    p.start("session")
    p.wait_healthy("session")
    try:
        r = httpx.get(p.service_url("session") + "/health/cache", timeout=10)
        assert r.status_code == 200
        assert r.json() == {"status": "disabled"}
    finally:
        p.stop_all()


def _pg_cluster(action: str) -> None:
    """Stop or start the cluster the tests use: `ECHO_TEST_PG_CLUSTER` ("<version> <name>", e.g. a private
    cluster made with pg_createcluster for a rehearsal), else the machine's first version's `main`."""
    named = os.environ.get("ECHO_TEST_PG_CLUSTER", "").split()
    version, name = named if len(named) == 2 else (sorted(os.listdir("/etc/postgresql"))[0], "main")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action], check=True, timeout=60)


@dataclass
class Answer:
    started: float
    ended: float
    label: str
    status: int
    error: str | None
    created: str | None


def _probe(client: httpx.Client, headers: dict[str, str], session_id: str, n: int) -> list[Answer]:
    """One round over the four services, each request one that must reach PostgreSQL (no cache in the way)."""
    answers = []
    for label, method, path, body, key in [
        ("gateway me", "GET", "/auth/me", None, None),
        ("workflow list", "GET", "/workflows", None, None),
        ("workflow create", "POST", "/agents", {"name": f"outage {n}"}, "agent_id"),
        ("session append", "POST", f"/sessions/{session_id}/messages", {"role": "user", "content": f"m{n}"}, "seq"),
        ("executor list", "GET", "/executions", None, None),
    ]:
        started = time.monotonic()
        try:
            r = client.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:  # recorded as status 0, so the assertions name it
            answers.append(Answer(started, time.monotonic(), label, 0, type(exc).__name__, None))
            continue
        try:
            payload = r.json()
        except ValueError:
            payload = {"error": f"not JSON: {r.text[:80]}"}
        created = str(payload[key]) if key and r.status_code == 201 else None
        error = payload.get("error") if isinstance(payload, dict) else None
        answers.append(Answer(started, time.monotonic(), label, r.status_code, error, created))
    return answers


def test_postgresql_outage_is_503_and_heals_without_restart(
    platform: Platform, gateway: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL stopped for 10 s under a request loop: only 503 `database_unavailable` while it is away, every
    request type answered 2xx within a second of it being back, no service restarted, every 201 kept."""
    if os.environ.get("ECHO_TEST_DISRUPTIVE") != "1":
        pytest.skip("stops the machine's PostgreSQL for 10 s; set ECHO_TEST_DISRUPTIVE=1 where nothing else uses it")
    headers = register_and_login(gateway, f"pg-outage-{uuid.uuid4().hex[:8]}@example.com")
    r = gateway.post("/sessions", json={}, headers=headers)
    assert r.status_code == 201, r.text
    session_id = r.json()["session_id"]
    pids = {name: proc.pid for name, proc in platform.procs.items()}
    answers: list[Answer] = []
    stop = threading.Event()

    def loop() -> None:
        n = 0
        with httpx.Client(base_url=platform.url, timeout=10) as client:
            while not stop.is_set():
                answers.extend(_probe(client, headers, session_id, n))
                n += 1
                time.sleep(0.05)

    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    try:
        time.sleep(2)
        stopping_at = time.monotonic()
        _pg_cluster("stop")
        down_at = time.monotonic()
        time.sleep(10)
        up_from = time.monotonic()
        _pg_cluster("start")
        back_at = time.monotonic()
        # Long enough for a few rounds past the one-second mark, bounded whatever happens.
        deadline = back_at + 15
        while time.monotonic() < deadline:
            if len({a.label for a in answers if a.started >= back_at + 1.0}) == 5 and time.monotonic() > back_at + 3:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(30)
        database = make_url(platform.env["ECHO_DATABASE_URL"])
        if not port_open(database.host or "127.0.0.1", database.port or 5432, 0.5):
            _pg_cluster("start")

    labels = {a.label for a in answers}
    with capsys.disabled():
        healed_after = {
            label: min(
                (
                    a.ended - back_at
                    for a in answers
                    if a.label == label and a.started >= back_at and 200 <= a.status < 300
                ),
                default=None,
            )
            for label in sorted(labels)
        }
        print(f"\nPostgreSQL back; first 2xx after (s): {healed_after}; {len(answers)} requests in the loop")
    before = [a for a in answers if a.ended < stopping_at]
    assert before and all(200 <= a.status < 300 for a in before), [(a.label, a.status) for a in before]
    during = [a for a in answers if a.started > down_at and a.ended < up_from]
    assert {a.label for a in during} == labels, "the loop did not cover every service while PostgreSQL was away"
    wrong = [(a.label, a.status, a.error) for a in during if (a.status, a.error) != (503, "database_unavailable")]
    assert not wrong, wrong
    # Healed within a second: whatever was sent from one second after PostgreSQL answered again got a 2xx.
    settled = [a for a in answers if a.started >= back_at + 1.0]
    assert {a.label for a in settled} == labels, "the loop stopped before every service was seen healed"
    assert all(200 <= a.status < 300 for a in settled), [(a.label, a.status, a.error) for a in settled]
    assert {name: proc.pid for name, proc in platform.procs.items()} == pids
    assert all(proc.poll() is None for proc in platform.procs.values()), "a service exited"
    agents = {a.created for a in answers if a.label == "workflow create" and a.created}
    for agent_id in agents:
        assert gateway.get(f"/agents/{agent_id}", headers=headers).status_code == 200, agent_id
    seqs = {a.created for a in answers if a.label == "session append" and a.created}
    stored = gateway.get(f"/sessions/{session_id}", headers=headers).json()["messages"]
    assert seqs and seqs <= {str(m["seq"]) for m in stored}
