"""Runs end to end through the gateway, all services as processes: chat/send → RabbitMQ → the executor runs
CrewAI → step events → the gateway's WebSocket → the execution row and the session's chat history."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import register_and_login
from tests.support.metrics import scrape
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e


def _agent(key: str, role: str, description: str, *, hitl: dict[str, Any] | None = None, **llm: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "agent_id": f"agt_{key}",
        "name": role,
        "role": role,
        "goal": f"Act as the {role}",
        "task": {"description": description, "expected_output": "text"},
        "llm": {"provider": "echo", "model": "echo-1", **llm},
    }
    if hitl is not None:
        spec["hitl"] = hitl
    return spec


def _workflow(gateway: httpx.Client, headers: dict[str, str], definition: dict[str, Any]) -> dict[str, Any]:
    body = {"definition": {"name": "run test", **definition}, "save_as": "final"}
    r = gateway.post("/workflows", json=body, headers=headers)
    assert r.status_code == 201, r.text
    r = gateway.get(f"/workflows/{r.json()['workflow_id']}", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _session(gateway: httpx.Client, headers: dict[str, str]) -> str:
    r = gateway.post("/sessions", json={"title": "runs"}, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["session_id"])


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def _events(
    platform: Platform, run_id: str, headers: dict[str, str], timeout: float = 30
) -> list[dict[str, Any]]:
    """Every event of the run from the WebSocket (replayed from seq 1), until the server closes after the end."""
    url = f"{platform.ws_url}/ws/execution/{run_id}?token={_token(headers)}&after_seq=0"
    events = []
    async with asyncio.timeout(timeout), connect(url) as ws:
        async for raw in ws:
            events.append(json.loads(raw))
    return events


def _finished(gateway: httpx.Client, run_id: str, headers: dict[str, str], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = gateway.get(f"/executions/{run_id}", headers=headers).json()
        if body["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            return dict(body)
        time.sleep(0.05)


def _messages(gateway: httpx.Client, session_id: str, headers: dict[str, str], count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        messages = gateway.get(f"/sessions/{session_id}", headers=headers).json()["messages"]
        if len(messages) >= count or time.monotonic() > deadline:
            return list(messages)
        time.sleep(0.1)


DEFINITIONS: dict[str, dict[str, Any]] = {
    "sequential": {
        "execution_model": "sequential",
        "agents": [_agent("r", "Researcher", "Research {message}"), _agent("w", "Writer", "Write about {message}")],
    },
    "parallel": {
        "execution_model": "parallel",
        "agents": [
            _agent("a", "Analyst", "Analyse {message}", delay_ms=500),
            _agent("b", "Critic", "Criticise {message}", delay_ms=500),
            _agent("j", "Editor", "Merge the views on {message}"),
        ],
        "connections": [{"from": "agt_a", "to": "agt_j"}, {"from": "agt_b", "to": "agt_j"}],
    },
    "hierarchical": {
        "execution_model": "hierarchical",
        "manager": {"llm": {"provider": "echo"}},
        "agents": [_agent("p", "Planner", "Plan {message}"), _agent("d", "Doer", "Do {message}")],
    },
}
LAST_ROLE = {"sequential": "Writer", "parallel": "Editor", "hierarchical": "Doer"}


@pytest.mark.parametrize("model", ["sequential", "parallel", "hierarchical"])
async def test_each_model_end_to_end(platform: Platform, gateway: httpx.Client, model: str) -> None:
    headers = register_and_login(gateway, f"runs-{model}-{uuid.uuid4().hex[:6]}@example.com")
    workflow = _workflow(gateway, headers, DEFINITIONS[model])
    session_id = _session(gateway, headers)
    r = gateway.post(
        "/workflows/chat/send",
        json={"workflow_id": workflow["workflow_id"], "message": "the tides", "session_id": session_id},
        headers=headers,
    )
    assert r.status_code == 202, r.text
    sent = r.json()
    assert sent["status"] == "executing" and sent["session_id"] == session_id
    run_id = sent["run_id"]
    # The user message is in the session when send returns.
    first = gateway.get(f"/sessions/{session_id}", headers=headers).json()["messages"]
    assert [(m["role"], m["content"], m["run_id"]) for m in first] == [("user", "the tides", run_id)]

    events = await _events(platform, run_id, headers)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_completed"
    steps = len(DEFINITIONS[model]["agents"]) + (model == "hierarchical")
    assert [e["type"] for e in events].count("step_completed") == steps
    assert all(e["step_id"] and e["agent_id"] for e in events if e["type"].startswith("step_"))

    run = _finished(gateway, run_id, headers)
    assert run["status"] == "completed"
    assert run["output"] == events[-1]["data"]["output"]
    assert run["output"].startswith(f"{LAST_ROLE[model]}: ") and "the tides" in run["output"]
    messages = _messages(gateway, session_id, headers, 2)
    assert [(m["role"], m["run_id"]) for m in messages] == [("user", run_id), ("assistant", run_id)], messages
    assert messages[1]["content"] == run["output"]

    if model == "parallel":
        ts: dict[tuple[str, str], datetime] = {
            (e["type"], e["data"].get("agent_name", "")): datetime.fromisoformat(e["ts"])
            for e in events
            if e["type"] in ("step_started", "step_completed")
        }
        # Analyst and Critic (500 ms each) ran at the same time: each started before the other finished.
        assert ts[("step_started", "Analyst")] < ts[("step_completed", "Critic")]
        assert ts[("step_started", "Critic")] < ts[("step_completed", "Analyst")]
        assert ts[("step_started", "Editor")] >= max(
            ts[("step_completed", "Analyst")], ts[("step_completed", "Critic")]
        )


async def test_failing_step_fails_the_run(platform: Platform, gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"runs-fail-{uuid.uuid4().hex[:6]}@example.com")
    definition = {"agents": [_agent("x", "Breaker", "Try {message}", fail_with="upstream model exploded")]}
    workflow = _workflow(gateway, headers, definition)
    session_id = _session(gateway, headers)
    r = gateway.post(
        "/workflows/chat/send",
        json={"workflow_id": workflow["workflow_id"], "message": "it", "session_id": session_id},
        headers=headers,
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    events = await _events(platform, run_id, headers)
    assert [e["type"] for e in events] == ["run_started", "step_started", "step_failed", "run_failed"]
    assert "upstream model exploded" in events[2]["data"]["error"]
    assert "upstream model exploded" in events[3]["data"]["error"]
    run = _finished(gateway, run_id, headers)
    assert run["status"] == "failed" and "upstream model exploded" in run["error"]
    messages = _messages(gateway, session_id, headers, 2)
    assert messages[0]["role"] == "user" and messages[1]["run_id"] == run_id


async def test_a_run_uses_its_sessions_variables_and_tools(platform: Platform, gateway: httpx.Client) -> None:
    """A send reads the session's run setup (`GET /sessions/{id}/run-setup`): its variables fill the task's
    placeholders unless the request's inputs say otherwise, and its selected tools join every agent's."""
    headers = register_and_login(gateway, f"runs-setup-{uuid.uuid4().hex[:6]}@example.com")
    workflow = _workflow(
        gateway, headers, {"agents": [_agent("r", "Researcher", "Research {message} at {place}; use calculator: 2+3")]}
    )
    r = gateway.post("/sessions", json={"title": "setup", "variables": {"place": "the harbour"}}, headers=headers)
    session_id = r.json()["session_id"]
    assert gateway.post(f"/sessions/{session_id}/tools", json={"tool_ids": ["calculator"]}, headers=headers).is_success
    for i in range(3):  # a conversation already under way
        gateway.post(f"/sessions/{session_id}/messages", json={"role": "user", "content": f"m{i}"}, headers=headers)

    outputs = []
    for inputs in ({}, {"place": "the pier"}):
        body = {"workflow_id": workflow["workflow_id"], "message": "tides", "session_id": session_id, "inputs": inputs}
        r = gateway.post("/workflows/chat/send", json=body, headers=headers)
        assert r.status_code == 202, r.text
        run = _finished(gateway, r.json()["run_id"], headers)
        assert run["status"] == "completed", run
        outputs.append(run["output"])
    assert "Research tides at the harbour" in outputs[0] and "[calculator(2+3) = 5]" in outputs[0], outputs[0]
    assert "Research tides at the pier" in outputs[1], outputs[1]


def test_the_session_lists_a_run_right_after_its_send(gateway: httpx.Client) -> None:
    """The run is listed on its session just after the 202 (not awaited by it), and without waiting for the run's
    outcome: this run pauses for a person, so only the send can have listed it."""
    headers = register_and_login(gateway, f"runs-listed-{uuid.uuid4().hex[:6]}@example.com")
    workflow = _workflow(
        gateway, headers, {"agents": [_agent("r", "Reviewer", "Check {message}", hitl={"mode": "approval"})]}
    )
    session_id = _session(gateway, headers)
    body = {"workflow_id": workflow["workflow_id"], "message": "it", "session_id": session_id}
    r = gateway.post("/workflows/chat/send", json=body, headers=headers)
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    deadline = time.monotonic() + 10
    while gateway.get(f"/sessions/{session_id}", headers=headers).json()["run_ids"] != [run_id]:
        assert time.monotonic() < deadline, "the session never listed the run"
        time.sleep(0.02)
    while gateway.get(f"/executions/{run_id}", headers=headers).json()["status"] != "paused":
        assert time.monotonic() < deadline, "the run never paused"
        time.sleep(0.05)
    messages = gateway.get(f"/sessions/{session_id}", headers=headers).json()["messages"]
    assert [m["role"] for m in messages] == ["user"]  # no outcome yet: the send listed the run
    assert gateway.post(f"/executions/{run_id}/cancel", headers=headers).status_code == 202


def test_send_checks_ownership_and_definition(gateway: httpx.Client) -> None:
    owner = register_and_login(gateway, f"runs-own-{uuid.uuid4().hex[:6]}@example.com")
    other = register_and_login(gateway, f"runs-other-{uuid.uuid4().hex[:6]}@example.com")
    workflow = _workflow(gateway, owner, DEFINITIONS["sequential"])
    r = gateway.post(
        "/workflows/chat/send", json={"workflow_id": workflow["workflow_id"], "message": "x"}, headers=other
    )
    assert r.status_code == 404 and r.json()["error"] == "workflow_not_found"
    session_id = _session(gateway, other)
    r = gateway.post(
        "/workflows/chat/send",
        json={"workflow_id": workflow["workflow_id"], "message": "x", "session_id": session_id},
        headers=owner,
    )
    assert r.status_code == 404 and r.json()["error"] == "session_not_found"
    r = gateway.post("/workflows/chat/send", json={"workflow_id": "nope", "message": "x"}, headers=owner)
    assert r.status_code == 422
    r = gateway.post("/workflows/chat/send", json={"workflow_id": workflow["workflow_id"]})
    assert r.status_code == 401
    r = gateway.post(
        "/workflows/chat/send", json={"workflow_id": workflow["workflow_id"], "message": "hi"}, headers=owner
    )
    assert r.status_code == 202 and r.json()["session_id"] is None
    assert gateway.get(f"/executions/{r.json()['run_id']}", headers=other).status_code == 404


def _ownership_checks(platform: Platform) -> float:
    """How often the executor was asked about one run (what the gateway does for a socket of a run it cannot place)."""
    return scrape(platform, "executor").value("http_requests_total", handler="/executions/{run_id}", method="GET")


async def test_a_socket_opened_right_after_send_is_not_checked_with_the_executor(
    platform: Platform, gateway: httpx.Client
) -> None:
    """Usually the socket arrives before the run's first event reaches the gateway; the 202 it forwarded already
    told it whose the run is, so the executor (starting that run) is not asked."""
    headers = register_and_login(gateway, f"runs-socket-{uuid.uuid4().hex[:6]}@example.com")
    workflow = _workflow(gateway, headers, DEFINITIONS["sequential"])
    before = _ownership_checks(platform)
    for i in range(5):
        r = gateway.post(
            "/workflows/chat/send", json={"workflow_id": workflow["workflow_id"], "message": f"n{i}"}, headers=headers
        )
        assert r.status_code == 202, r.text
        events = await _events(platform, r.json()["run_id"], headers)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_completed"
    assert _ownership_checks(platform) == before
    other = register_and_login(gateway, f"runs-socket-other-{uuid.uuid4().hex[:6]}@example.com")
    r = gateway.post(
        "/workflows/chat/send", json={"workflow_id": workflow["workflow_id"], "message": "x"}, headers=headers
    )
    url = f"{platform.ws_url}/ws/execution/{r.json()['run_id']}?token={_token(other)}&after_seq=0"
    async with asyncio.timeout(10), connect(url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def _memory_reads(platform: Platform) -> float:
    """How many workflows the executor's sends took from memory rather than over HTTP."""
    return scrape(platform, "executor").value("echoai_executor_workflow_reads_total", source="memory")


def test_a_send_right_after_a_save_runs_what_was_saved(platform: Platform, gateway: httpx.Client) -> None:
    """The executor answers an unchanged workflow from memory, and the send that follows a save runs the save."""
    headers = register_and_login(gateway, f"runs-fresh-{uuid.uuid4().hex[:6]}@example.com")
    workflow_id = _workflow(gateway, headers, {"agents": [_agent("a", "Role 0", "Say {message}")]})["workflow_id"]

    def send() -> str:
        r = gateway.post("/workflows/chat/send", json={"workflow_id": workflow_id, "message": "hi"}, headers=headers)
        assert r.status_code == 202, r.text
        return str(r.json()["run_id"])

    for i in range(1, 6):
        before = _memory_reads(platform)
        send()
        send()
        assert _memory_reads(platform) > before, "an unchanged workflow comes from memory"
        body = {"definition": {"name": "run test", "agents": [_agent("a", f"Role {i}", "Say {message}")]}}
        r = gateway.put(f"/workflows/{workflow_id}", json={**body, "save_as": "draft"}, headers=headers)
        assert r.status_code == 200, r.text
        run_id = send()  # at once: no time for the change's notice to travel
        assert _finished(gateway, run_id, headers)["status"] == "completed"
        steps = gateway.get(f"/workflows/execution/{run_id}/steps", headers=headers).json()["steps"]
        assert [s["agent_name"] for s in steps] == [f"Role {i}"]
