"""Small helpers to save a workflow and follow a run over the gateway's WebSocket."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed


def echo_agent(key: str, role: str, **llm: Any) -> dict[str, Any]:
    return {
        "agent_id": f"agt_{key}",
        "name": role,
        "role": role,
        "goal": f"Act as the {role}",
        "task": {"description": f"{role}: work on {{message}}", "expected_output": "text"},
        "llm": {"provider": "echo", "model": "echo-1", **llm},
    }


def save_workflow(gateway: httpx.Client, headers: dict[str, str], agents: list[dict[str, Any]]) -> str:
    body = {"definition": {"name": "test run", "execution_model": "sequential", "agents": agents}, "save_as": "final"}
    r = gateway.post("/workflows", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["workflow_id"])


def send(gateway: httpx.Client, headers: dict[str, str], workflow_id: str, **extra: Any) -> str:
    r = gateway.post(
        "/workflows/chat/send", json={"workflow_id": workflow_id, "message": "tides", **extra}, headers=headers
    )
    assert r.status_code == 202, r.text
    return str(r.json()["run_id"])


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@dataclass
class Followed:
    events: list[dict[str, Any]] = field(default_factory=list)
    code: int | None = None

    @property
    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events]


async def read_until_closed(ws: ClientConnection, into: Followed) -> Followed:
    try:
        async for raw in ws:
            into.events.append(json.loads(raw))
    except ConnectionClosed:
        pass
    into.code = ws.close_code
    return into
