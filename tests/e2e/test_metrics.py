"""`/metrics` on all four services after a run driven through the gateway and followed over its WebSocket: each
metric is there with the value the run implies."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import register_and_login
from tests.support.metrics import Scrape, scrape
from tests.support.platform import Platform
from tests.support.runs import Followed, echo_agent, read_until_closed, save_workflow, send, token_of

pytestmark = pytest.mark.e2e

SERVICES = ("gateway", "workflow", "session", "executor")
STEPS = 2
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def scrape_all(platform: Platform) -> dict[str, Scrape]:
    return {service: scrape(platform, service) for service in SERVICES}


@dataclass
class Driven:
    before: dict[str, Scrape]
    after: dict[str, Scrape]
    events: list[dict[str, Any]]
    run_id: str

    def delta(self, service: str, name: str, **labels: str) -> float:
        return self.after[service].value(name, **labels) - self.before[service].value(name, **labels)


def _wait_for(check: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture(scope="module")
def driven(platform: Platform, gateway: httpx.Client) -> Iterator[Driven]:
    """One run of two steps: sent through the gateway, followed over its WebSocket, then read back."""
    before = scrape_all(platform)
    headers = register_and_login(gateway, f"metrics-{uuid.uuid4().hex[:6]}@example.com")
    workflow_id = save_workflow(gateway, headers, [echo_agent(f"m{i}", f"Metric{i}") for i in range(STEPS)])
    session = gateway.post("/sessions", json={"title": "metrics"}, headers=headers).json()["session_id"]
    run_id = send(gateway, headers, workflow_id, session_id=session)

    async def follow() -> Followed:
        url = f"{platform.ws_url}/ws/execution/{run_id}?token={token_of(headers)}&after_seq=0"
        async with asyncio.timeout(60), connect(url) as ws:
            return await read_until_closed(ws, Followed())

    followed = asyncio.run(follow())
    assert followed.code == 1000 and followed.events[-1]["type"] == "run_completed", followed
    assert gateway.get(f"/executions/{run_id}", headers=headers).json()["status"] == "completed"
    assert gateway.get(f"/workflows/{workflow_id}", headers=headers).status_code == 200
    assert gateway.get(f"/sessions/{session}", headers=headers).status_code == 200
    assert gateway.get(f"/workflows/execution/{run_id}/steps", headers=headers).status_code == 200
    # The gateway lets go of the socket just after the client sees the close.
    connections = before["gateway"].value("echoai_ws_connections")
    _wait_for(lambda: scrape(platform, "gateway").value("echoai_ws_connections") == connections)
    yield Driven(before, scrape_all(platform), followed.events, run_id)


ROUTES = {
    "gateway": [("POST", "/auth/login", "200"), ("GET", "/workflows/execution/{run_id}/steps", "200")],
    "workflow": [("POST", "/workflows", "201"), ("GET", "/workflows/{workflow_id}", "200")],
    "session": [("GET", "/sessions/{session_id}", "200")],
    "executor": [("POST", "/workflows/chat/send", "202"), ("GET", "/executions/{run_id}", "200")],
}


def test_http_metrics_by_route_template_on_every_service(driven: Driven) -> None:
    for service, routes in ROUTES.items():
        for method, handler, status in routes:
            got = driven.delta(service, "http_requests_total", method=method, handler=handler, status=status)
            assert got >= 1, (service, method, handler, status)
            count = driven.delta(service, "http_request_duration_seconds_count", method=method, handler=handler)
            assert count >= 1, (service, method, handler)
            assert driven.after[service].value(
                "http_request_duration_seconds_bucket", method=method, handler=handler, le="+Inf"
            ) == driven.after[service].value("http_request_duration_seconds_count", method=method, handler=handler)
    # The one run of this test: exactly one send reached the executor.
    assert driven.delta("executor", "http_requests_total", method="POST", handler="/workflows/chat/send") == 1
    # Route templates only: no id ever becomes a label value (a series per object would never end).
    for service, scraped in driven.after.items():
        for name, labels, _ in scraped.samples:
            assert not any(UUID.search(v) for v in labels.values()), (service, name, labels)
        assert scraped.value("http_requests_total", handler="/metrics") == 0, service


def test_gateway_counts_websocket_connections_and_events(driven: Driven) -> None:
    assert driven.after["gateway"].has("echoai_ws_connections")
    assert driven.after["gateway"].value("echoai_ws_connections") == driven.before["gateway"].value(
        "echoai_ws_connections"
    )
    assert driven.delta("gateway", "echoai_ws_events_delivered_total") == len(driven.events)
    for reason in ("too_slow", "shutdown", "refused"):
        assert driven.after["gateway"].has("echoai_ws_events_dropped_total")
        assert ("echoai_ws_events_dropped_total", {"reason": reason}) in [
            (n, ls) for n, ls, _ in driven.after["gateway"].samples
        ]
    assert driven.delta("gateway", "echoai_ws_events_dropped_total") == 0


def test_broker_publish_failures_are_exposed_everywhere(driven: Driven) -> None:
    for service, scraped in driven.after.items():
        assert scraped.has("echoai_broker_publish_failures_total"), service
    # RabbitMQ was up: the run's publishes (request, events) all went through.
    assert driven.delta("executor", "echoai_broker_publish_failures_total") == 0


def test_executor_counts_the_run_its_steps_and_nothing_in_flight(driven: Driven) -> None:
    assert driven.delta("executor", "echoai_runs_total", status="completed") == 1
    assert driven.delta("executor", "echoai_runs_total", status="failed") == 0
    assert driven.delta("executor", "echoai_run_duration_seconds_count") == 1
    assert driven.delta("executor", "echoai_step_duration_seconds_count") == STEPS
    completed_steps = [e for e in driven.events if e["type"] == "step_completed"]
    assert len(completed_steps) == STEPS
    assert driven.after["executor"].has("echoai_runs_in_flight")
    assert driven.after["executor"].value("echoai_runs_in_flight") == 0
    assert driven.after["executor"].has("echoai_checkpoints_pending")


def test_checkpoints_pending_is_what_the_database_holds(platform: Platform, database_url: str) -> None:
    # A gauge of the whole platform (every user's runs), refreshed by the sweeper about once a second; other
    # tests' runs may pause or be decided meanwhile, so it is compared with the table, not with a delta.
    async def pending() -> int:
        import asyncpg

        conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return int(await conn.fetchval("SELECT count(*) FROM executor.hitl_checkpoints WHERE status = 'pending'"))
        finally:
            await conn.close()

    deadline = time.monotonic() + 15
    while True:
        expected, seen = asyncio.run(pending()), scrape(platform, "executor").value("echoai_checkpoints_pending")
        if seen == expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert seen == expected


def test_session_counts_cache_hits_and_misses(platform: Platform, gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"metrics-cache-{uuid.uuid4().hex[:6]}@example.com")
    session = gateway.post("/sessions", json={"title": "cached"}, headers=headers).json()["session_id"]
    # Large enough to go through the cache (small sessions are read straight from PostgreSQL).
    for _ in range(3):
        r = gateway.post(
            f"/sessions/{session}/messages", json={"role": "user", "content": "x" * 20_000}, headers=headers
        )
        assert r.status_code == 201, r.text
    before = scrape(platform, "session")
    for _ in range(3):
        assert gateway.get(f"/sessions/{session}", headers=headers).status_code == 200
    after = scrape(platform, "session")
    assert after.has("echoai_cache_requests_total")
    hits = after.value("echoai_cache_requests_total", result="hit") - before.value(
        "echoai_cache_requests_total", result="hit"
    )
    misses = after.value("echoai_cache_requests_total", result="miss") - before.value(
        "echoai_cache_requests_total", result="miss"
    )
    assert misses >= 1 and hits >= 1, (hits, misses)  # the first read fills the cache, the next ones hit it
    assert after.value("echoai_cache_requests_total", result="error") == before.value(
        "echoai_cache_requests_total", result="error"
    )
