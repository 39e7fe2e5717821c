"""chat/send answers 202 only once RabbitMQ holds the run request: otherwise 503, quickly, and nothing half-made
stays behind (no execution row, no user message); once the broker is back, sends work without any restart."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from typing import Any

import aio_pika
import httpx
import pytest

from shared.messaging.topology import RUN_REQUESTS_KEY, Topology
from tests.e2e.conftest import register_and_login
from tests.e2e.test_runs import _finished, _messages, _session, _workflow
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

DEFINITION = {
    "agents": [{"agent_id": "agt_s", "name": "Solo", "role": "Solo", "task": {"description": "Echo {message}"}}]
}


def _send(gateway: httpx.Client, headers: dict[str, str], workflow_id: str, session_id: str) -> httpx.Response:
    body: dict[str, Any] = {"workflow_id": workflow_id, "message": "are you there", "session_id": session_id}
    return gateway.post("/workflows/chat/send", json=body, headers=headers)


def _nothing_left(gateway: httpx.Client, headers: dict[str, str], workflow_id: str, session_id: str) -> None:
    runs = gateway.get("/executions", params={"workflow_id": workflow_id}, headers=headers).json()["items"]
    assert runs == []
    assert gateway.get(f"/sessions/{session_id}", headers=headers).json()["messages"] == []


async def test_unconfirmed_publish_takes_back_the_user_message(platform: Platform, gateway: httpx.Client) -> None:
    """The broker refuses the request (unroutable, published mandatory) after the user message was appended."""
    headers = register_and_login(gateway, f"runs-unroutable-{uuid.uuid4().hex[:6]}@example.com")
    workflow_id = _workflow(gateway, headers, {"name": "w", **DEFINITION})["workflow_id"]
    session_id = _session(gateway, headers)
    topo = Topology(platform.env["ECHO_BROKER_NAMESPACE"])
    conn = await aio_pika.connect(platform.env["ECHO_AMQP_URL"])
    try:
        channel = await conn.channel()
        queue = await channel.get_queue(topo.run_requests.name, ensure=True)
        await queue.unbind(topo.runs_exchange, RUN_REQUESTS_KEY)
        try:
            r = await asyncio.to_thread(_send, gateway, headers, workflow_id, session_id)
        finally:
            await queue.bind(topo.runs_exchange, RUN_REQUESTS_KEY)
    finally:
        await conn.close()
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "broker_unavailable"
    _nothing_left(gateway, headers, workflow_id, session_id)
    r = await asyncio.to_thread(_send, gateway, headers, workflow_id, session_id)
    assert r.status_code == 202, r.text


def _rabbitmqctl(action: str) -> None:
    subprocess.run(["rabbitmqctl", action], check=True, timeout=60, capture_output=True)


@pytest.mark.slow
def test_broker_stopped_then_back(platform: Platform, gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"runs-outage-{uuid.uuid4().hex[:6]}@example.com")
    workflow_id = _workflow(gateway, headers, {"name": "w", **DEFINITION})["workflow_id"]
    session_id = _session(gateway, headers)
    # The local RabbitMQ is shared: keep the outage short and always bring it back.
    _rabbitmqctl("stop_app")
    try:
        started = time.monotonic()
        r = _send(gateway, headers, workflow_id, session_id)
        elapsed = time.monotonic() - started
    finally:
        _rabbitmqctl("start_app")
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "broker_unavailable"
    assert elapsed < 5, f"503 took {elapsed:.1f}s"  # the documented bound (docs/api.md#runs), not a benchmark
    _nothing_left(gateway, headers, workflow_id, session_id)

    deadline = time.monotonic() + 60
    while True:  # the services reconnect on their own
        r = _send(gateway, headers, workflow_id, session_id)
        if r.status_code == 202 or time.monotonic() > deadline:
            break
        assert r.status_code == 503, r.text
        time.sleep(0.5)
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    run = _finished(gateway, run_id, headers, timeout=60)
    assert run["status"] == "completed", run
    messages = _messages(gateway, session_id, headers, 2)
    assert [(m["role"], m["run_id"]) for m in messages] == [("user", run_id), ("assistant", run_id)]
