"""A finished run, seen by a client who joins late, and by someone it does not belong to (e2e, all services)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import register_and_login
from tests.e2e.test_runs import DEFINITIONS, _events, _finished, _token, _workflow
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e


async def _close_code(url: str) -> int | None:
    """Connect, read until the server closes, and return its close code."""
    async with connect(url) as ws:
        try:
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass
        return ws.close_code


async def test_late_joiner_gets_steps_and_replay_and_a_stranger_gets_nothing(
    platform: Platform, gateway: httpx.Client
) -> None:
    owner = register_and_login(gateway, f"late-{uuid.uuid4().hex[:6]}@example.com")
    stranger = register_and_login(gateway, f"stranger-{uuid.uuid4().hex[:6]}@example.com")
    workflow = _workflow(gateway, owner, DEFINITIONS["sequential"])
    r = gateway.post(
        "/workflows/chat/send", json={"workflow_id": workflow["workflow_id"], "message": "late"}, headers=owner
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    run = _finished(gateway, run_id, owner)
    assert run["status"] == "completed"

    # Joining after the end: the steps endpoint has the whole run ...
    r = gateway.get(f"/workflows/execution/{run_id}/steps", headers=owner)
    assert r.status_code == 200, r.text
    steps = r.json()
    assert steps["run_id"] == run_id and steps["status"] == "completed"
    assert [(s["agent_name"], s["status"]) for s in steps["steps"]] == [
        ("Researcher", "completed"),
        ("Writer", "completed"),
    ]
    assert steps["steps"][-1]["output"] == run["output"]

    # ... and the socket replays every event, then closes normally after the terminal one.
    events = await _events(platform, run_id, owner)
    assert [e["seq"] for e in events] == list(range(1, steps["last_seq"] + 1))
    assert events[-1]["type"] == "run_completed" and events[-1]["data"]["output"] == run["output"]
    url = f"{platform.ws_url}/ws/execution/{run_id}?token={_token(owner)}"
    tail = []
    async with connect(f"{url}&after_seq=3") as ws:
        async for raw in ws:
            tail.append(raw)
    assert len(tail) == len(events) - 3
    assert await _close_code(f"{url}&after_seq=0") == 1000

    # Someone else's run: 404 on REST, 1008 on the socket, and nothing of the run leaks.
    assert gateway.get(f"/executions/{run_id}", headers=stranger).status_code == 404
    r = gateway.get(f"/workflows/execution/{run_id}/steps", headers=stranger)
    assert r.status_code == 404 and set(r.json()) == {"error", "detail"}
    assert await _close_code(f"{platform.ws_url}/ws/execution/{run_id}?token={_token(stranger)}") == 1008
    assert await _close_code(f"{platform.ws_url}/ws/execution/{run_id}?token=not-a-token") == 1008
