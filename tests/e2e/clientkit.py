"""Helpers the client, CLI and console tests share: users, echo workflows, clients on the running platform."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from echoai_client import Client
from tests.e2e.conftest import register_and_login
from tests.support.platform import Platform


def echo_agent(key: str, role: str, description: str, **llm: Any) -> dict[str, Any]:
    return {
        "agent_id": f"agt_{key}",
        "name": role,
        "role": role,
        "goal": f"Act as the {role}",
        "task": {"description": description, "expected_output": "text"},
        "llm": {"provider": "echo", "model": "echo-1", **llm},
    }


def pipeline(name: str, roles: list[str], **llm: Any) -> dict[str, Any]:
    """A sequential workflow of echo agents, one per role; `delay_ms`/`fail_with` go to every agent's llm."""
    agents = [
        echo_agent(f"{role.lower()}{i}", role, f"{role} works on {{message}}", **llm) for i, role in enumerate(roles)
    ]
    return {"name": name, "execution_model": "sequential", "agents": agents}


def new_user(gateway: httpx.Client, prefix: str) -> tuple[str, str]:
    """A registered user's email and token."""
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
    headers = register_and_login(gateway, email)
    return email, headers["Authorization"].removeprefix("Bearer ")


def client_for(platform: Platform, gateway: httpx.Client, prefix: str) -> Client:
    _, token = new_user(gateway, prefix)
    return Client(platform.url, token)
