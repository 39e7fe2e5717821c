"""The workflow API through the gateway, with every service running as a process."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.workflow.builtin_tools import CALCULATOR_TOOL_ID
from tests.e2e.conftest import register_and_login
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e


def _definition(goal: str) -> dict[str, object]:
    return {
        "name": "Research pipeline",
        "execution_model": "sequential",
        "agents": [
            {
                "agent_id": "agt_researcher",
                "name": "Researcher",
                "role": "Researcher",
                "goal": goal,
                "task": {"description": "Research {message}", "expected_output": "notes"},
                "llm": {"provider": "echo", "model": "echo-1"},
                "tools": [str(CALCULATOR_TOOL_ID)],
            },
        ],
        "connections": [],
        "layout": {"kept": True},
    }


def test_create_save_final_twice_versions_restore_delete(gateway: httpx.Client, platform: Platform) -> None:
    headers = register_and_login(gateway, f"wf-{uuid.uuid4().hex[:8]}@example.com")

    r = gateway.post("/workflows", json={"definition": _definition("draft goal"), "save_as": "draft"}, headers=headers)
    assert r.status_code == 201, r.text
    wid = r.json()["workflow_id"]
    agent_id = r.json()["definition"]["agents"][0]["agent_id"]

    for n, goal in ((1, "first goal"), (2, "second goal")):
        r = gateway.put(
            f"/workflows/{wid}", json={"definition": _definition(goal), "save_as": "final"}, headers=headers
        )
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["version"]) == ("final", n)

    versions = gateway.get(f"/workflows/{wid}/versions", headers=headers).json()
    assert [v["version"] for v in versions["items"]] == [1, 2] and versions["next_cursor"] is None

    r = gateway.post(f"/workflows/{wid}/versions/1/restore", headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["version"]) == ("draft", 2)
    current = gateway.get(f"/workflows/{wid}", headers=headers).json()
    assert current["definition"]["agents"][0]["goal"] == "first goal"
    assert current["definition"]["layout"] == {"kept": True}
    # What the executor reads: the definition and its tools, with the user's token.
    assert gateway.get(f"/agents/{agent_id}", headers=headers).json()["definition"]["goal"] == "first goal"
    assert gateway.get(f"/tools/{CALCULATOR_TOOL_ID}", headers=headers).json()["name"] == "calculator"

    assert gateway.delete(f"/workflows/{wid}", headers=headers).status_code == 204
    assert gateway.get(f"/workflows/{wid}", headers=headers).status_code == 404
    assert gateway.delete(f"/workflows/{wid}", headers=headers).status_code == 404
    assert wid not in [w["workflow_id"] for w in gateway.get("/workflows", headers=headers).json()["items"]]

    # Another user sees none of it.
    other = register_and_login(gateway, f"wf-other-{uuid.uuid4().hex[:8]}@example.com")
    assert gateway.get(f"/agents/{agent_id}", headers=other).status_code == 404


def test_two_mib_body_is_413_through_the_gateway(gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"wf-big-{uuid.uuid4().hex[:8]}@example.com")
    body = {"definition": {**_definition("big"), "notes": "x" * (2 * 1024 * 1024)}, "save_as": "draft"}
    r = gateway.post("/workflows", json=body, headers=headers)
    assert r.status_code == 413, r.text[:200]
    assert r.json()["error"] == "payload_too_large" and set(r.json()) == {"error", "detail"}
    assert gateway.get("/workflows", headers=headers).json()["items"] == []


def test_schema_is_published(gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"wf-schema-{uuid.uuid4().hex[:8]}@example.com")
    schema = gateway.get("/workflows/schema", headers=headers).json()
    assert schema["title"] == "WorkflowDefinition" and schema["required"] == ["name"]


def test_another_users_ids_answer_as_unused_ones_through_the_gateway(gateway: httpx.Client) -> None:
    alice = register_and_login(gateway, f"wf-alice-{uuid.uuid4().hex[:8]}@example.com")
    bob = register_and_login(gateway, f"wf-bob-{uuid.uuid4().hex[:8]}@example.com")
    r = gateway.post("/workflows", json={"definition": _definition("alice's goal"), "save_as": "final"}, headers=alice)
    wid = r.json()["workflow_id"]
    theirs = r.json()["definition"]["agents"][0]["agent_id"]

    copied = _definition("bob's goal")
    copied["agents"][0]["agent_id"] = theirs  # type: ignore[index]
    r = gateway.post("/workflows", json={"definition": copied, "save_as": "draft"}, headers=bob)
    assert r.status_code == 201, r.text
    mine = r.json()["definition"]["agents"][0]["agent_id"]
    assert mine != theirs
    assert gateway.get(f"/agents/{mine}", headers=bob).json()["definition"]["goal"] == "bob's goal"
    # Bob's save gave him that agent under his own ID, so posting it is what posting any agent of his is.
    r = gateway.post("/agents", json={"agent_id": theirs, "name": "Copy"}, headers=bob)
    assert (r.status_code, r.json()["error"]) == (409, "agent_exists") and mine in r.json()["detail"]
    assert theirs not in r.json()["detail"]
    assert gateway.get(f"/agents/{theirs}", headers=bob).status_code == 404
    assert gateway.get(f"/agents/{theirs}", headers=alice).json()["definition"]["goal"] == "alice's goal"

    # Version numbers past the column's range name the parameter instead of failing.
    for method in ("GET", "POST"):
        path = f"/workflows/{wid}/versions/2147483648" + ("/restore" if method == "POST" else "")
        r = gateway.request(method, path, headers=alice)
        assert r.status_code == 422 and r.json()["detail"].startswith("version:"), r.text
