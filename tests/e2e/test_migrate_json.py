"""Legacy data migrated for a freshly registered user, then used through the gateway like any other data:
the final workflow runs through chat/send, the migrated chat reads back with its messages and goes on."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.ids import parse_uuid
from tests.e2e.conftest import register_and_login
from tests.support.platform import ROOT, Platform

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy-sample"
FINAL_WF = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
TEMP_WF = "bb2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
FIRST_CHAT = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"
WEB_SEARCH = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


def _migrate(platform: Platform, source: Path, owner: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.migrate_json", "--source", str(source), "--owner", owner],
        cwd=ROOT,
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _finished(gateway: httpx.Client, run_id: str, headers: dict[str, str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = gateway.get(f"/executions/{run_id}", headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            return dict(r.json())
        time.sleep(0.1)


@pytest.fixture(scope="module")
def migrated(
    platform: Platform, gateway: httpx.Client, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], uuid.UUID]:
    """The sample migrated for a new user; (their auth headers, their user id)."""
    email = f"legacy-{uuid.uuid4().hex[:8]}@example.com"
    headers = register_and_login(gateway, email)
    user_id = uuid.UUID(gateway.get("/auth/me", headers=headers).json()["user_id"])
    source = Path(shutil.copytree(SAMPLE, tmp_path_factory.mktemp("legacy") / "tree"))

    done = _migrate(platform, source, email)

    assert done.returncode == 0, done.stderr
    assert f"for {email} ({user_id})" in done.stdout
    again = _migrate(platform, source, email)
    assert again.returncode == 0 and "changes: none" in again.stdout, again.stdout + again.stderr
    return headers, user_id


def test_migrated_objects_are_the_owners_through_the_api(
    gateway: httpx.Client, migrated: tuple[dict[str, str], uuid.UUID]
) -> None:
    headers, user_id = migrated

    wf = gateway.get(f"/workflows/{FINAL_WF}", headers=headers)
    assert wf.status_code == 200, wf.text
    assert (wf.json()["status"], wf.json()["version"]) == ("final", 1)
    versions = gateway.get(f"/workflows/{FINAL_WF}/versions", headers=headers).json()["items"]
    assert [v["version"] for v in versions] == [1]
    assert gateway.get(f"/workflows/{TEMP_WF}", headers=headers).status_code == 404
    agents = gateway.get("/agents", headers=headers).json()["items"]
    reviewer = str(parse_uuid("agt_reviewer", "agt", scope=user_id))
    assert {a["name"]: a["agent_id"] for a in agents}["Reviewer"] == reviewer
    tools = gateway.get("/tools", params={"tag": "search"}, headers=headers).json()["items"]
    assert [t["tool_id"] for t in tools] == [WEB_SEARCH]
    # Someone else sees none of it.
    stranger = register_and_login(gateway, f"stranger-{uuid.uuid4().hex[:8]}@example.com")
    assert gateway.get(f"/workflows/{FINAL_WF}", headers=stranger).status_code == 404
    assert gateway.get(f"/sessions/{FIRST_CHAT}", headers=stranger).status_code == 404


def test_a_migrated_session_reads_back_with_its_messages(
    gateway: httpx.Client, migrated: tuple[dict[str, str], uuid.UUID]
) -> None:
    headers, user_id = migrated

    r = gateway.get(f"/sessions/{FIRST_CHAT}", headers=headers)

    assert r.status_code == 200, r.text
    chat = r.json()
    assert (chat["title"], chat["context_type"], chat["context_id"]) == ("First chat", "workflow", FINAL_WF)
    assert chat["selected_tool_ids"] == [WEB_SEARCH]
    assert [(m["seq"], m["role"], m["content"]) for m in chat["messages"]][:2] == [
        (1, "user", "Tell me about tides"),
        (2, "assistant", "Tides are caused by the moon."),
    ]
    assert chat["messages"][0]["created_at"].startswith("2026-01-30T10:00:00")
    old = gateway.get(f"/sessions/{parse_uuid('sess_legacy-42', 'sess', scope=user_id)}", headers=headers)
    assert old.status_code == 200 and old.json()["messages"] == []


def test_a_migrated_final_workflow_runs_through_chat_send(
    gateway: httpx.Client, migrated: tuple[dict[str, str], uuid.UUID]
) -> None:
    headers, _ = migrated

    r = gateway.post(
        "/workflows/chat/send",
        json={"workflow_id": FINAL_WF, "message": "the tides", "session_id": FIRST_CHAT},
        headers=headers,
    )

    assert r.status_code == 202, r.text
    run = _finished(gateway, r.json()["run_id"], headers)
    assert run["status"] == "completed", run
    assert run["output"]
    # The migrated chat goes on where the legacy one stopped: seq 3 is the question, seq 4 the answer.
    deadline = time.monotonic() + 20
    while len(messages := gateway.get(f"/sessions/{FIRST_CHAT}", headers=headers).json()["messages"]) < 4:
        assert time.monotonic() < deadline, messages
        time.sleep(0.1)
    assert [(m["seq"], m["role"]) for m in messages] == [(1, "user"), (2, "assistant"), (3, "user"), (4, "assistant")]
    assert messages[3]["run_id"] == r.json()["run_id"]
