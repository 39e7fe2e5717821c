"""Paused runs across executor restarts, timeouts the platform decides, cancelling in every state, and the inbox
(e2e: all four services as processes; the executor is stopped and started again here)."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import register_and_login
from tests.e2e.test_hitl import (
    REVIEWED,
    STEP,
    TERMINAL,
    Live,
    agent,
    checkpoints,
    decide,
    pending_checkpoint,
    send,
    started_per_step,
    wait_status,
)
from tests.e2e.test_runs import _workflow
from tests.support.platform import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def restart_executor(platform: Platform, sig: int = signal.SIGKILL, **env: str) -> None:
    """Every executor process goes (SIGKILL: nothing graceful to lean on), a new one starts."""
    platform.stop("executor", sig)
    platform.start("executor", extra_env=env)
    platform.wait_healthy("executor")


def executor_log(platform: Platform) -> str:
    return (platform.log_dir / "executor.log").read_text(errors="replace")


def wait_logged(platform: Platform, text: str, since: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in executor_log(platform)[since:]:
        assert time.monotonic() < deadline, f"the executor never logged {text!r}"
        time.sleep(0.1)


def timed(key: str, seconds: float, on_timeout: str) -> dict[str, Any]:
    hitl = {"mode": "approval", "timeout_s": seconds, "on_timeout": on_timeout}
    return {
        "name": f"timeout {on_timeout}",
        "agents": [agent(key, "Checker", "Check {message}", hitl=hitl), agent(f"{key}2", "Closer", "Close {message}")],
    }


async def test_a_paused_run_survives_every_executor_and_no_step_runs_twice(
    platform: Platform, gateway: httpx.Client
) -> None:
    headers = register_and_login(gateway, f"hitl-restart-{uuid.uuid4().hex[:6]}@example.com")
    run_id = send(gateway, headers, _workflow(gateway, headers, REVIEWED)["workflow_id"])
    async with Live(platform, run_id, headers).open() as live:
        await live.until("run_paused")
        checkpoint = await asyncio.to_thread(pending_checkpoint, gateway, run_id, headers)
        await asyncio.to_thread(restart_executor, platform)
        since = len(executor_log(platform))
        r = await asyncio.to_thread(decide, gateway, run_id, checkpoint["checkpoint_id"], headers, action="approve")
        assert r.status_code == 200, r.text
        events = await live.closed()
    # One socket saw the whole run across the restart, on one gap-free seq.
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events] == [
        "run_started", *STEP, *STEP, "run_paused", "run_resumed", *STEP, "run_completed",
    ]  # fmt: skip
    assert started_per_step(events) == Counter({"Researcher": 1, "Reviewer": 1, "Writer": 1})
    await asyncio.to_thread(wait_logged, platform, f"run {run_id}: finished", since)  # the new process finished it
    run = wait_status(gateway, run_id, headers, TERMINAL)
    assert run["status"] == "completed" and run["output"].startswith("Writer: Write about the tides")
    steps = gateway.get(f"/executions/{run_id}/steps", headers=headers).json()["steps"]
    assert [(s["agent_name"], s["status"], s["attempt"]) for s in steps] == [
        ("Researcher", "completed", 1),
        ("Reviewer", "completed", 1),
        ("Writer", "completed", 1),
    ]


def _timed_out(gateway: httpx.Client, run_id: str, headers: dict[str, str], action: str) -> dict[str, Any]:
    [checkpoint] = checkpoints(gateway, run_id, headers)
    assert checkpoint["status"] == ("approved" if action == "approve" else "rejected")
    assert checkpoint["reason"] == "timeout" and checkpoint["decided_by"] is None
    assert checkpoint["expires_at"] is not None and checkpoint["decided_at"] is not None
    assert datetime.fromisoformat(checkpoint["decided_at"]) >= datetime.fromisoformat(checkpoint["expires_at"])
    return checkpoint


async def test_timeouts_decide_by_themselves(platform: Platform, gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"hitl-timeout-{uuid.uuid4().hex[:6]}@example.com")
    approve = send(gateway, headers, _workflow(gateway, headers, timed("ta", 2, "approve"))["workflow_id"])
    reject = send(gateway, headers, _workflow(gateway, headers, timed("tr", 2, "reject"))["workflow_id"])
    async with Live(platform, approve, headers).open() as live:
        paused = await live.until("run_paused")
        assert paused["data"]["expires_at"] is not None
        events = await live.closed()
    assert [e["type"] for e in events] == ["run_started", *STEP, "run_paused", "run_resumed", *STEP, "run_completed"]
    assert events[len(STEP) + 2]["data"]["reason"] == "approved" and events[len(STEP) + 2]["data"]["by"] == "timeout"
    assert wait_status(gateway, approve, headers, TERMINAL)["status"] == "completed"
    _timed_out(gateway, approve, headers, "approve")

    run = wait_status(gateway, reject, headers, TERMINAL)
    assert run["status"] == "failed" and "in time" in run["error"]
    _timed_out(gateway, reject, headers, "reject")
    assert "Closer" not in [
        s["agent_name"] for s in gateway.get(f"/executions/{reject}/steps", headers=headers).json()["steps"]
    ]


def test_a_timeout_fires_across_an_executor_restart(platform: Platform, gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"hitl-timeout-restart-{uuid.uuid4().hex[:6]}@example.com")
    run_id = send(gateway, headers, _workflow(gateway, headers, timed("tx", 3, "approve"))["workflow_id"])
    checkpoint = pending_checkpoint(gateway, run_id, headers)
    platform.stop("executor", signal.SIGKILL)
    try:
        # Every executor is gone while the deadline passes: nobody holds a timer for it.
        deadline = datetime.fromisoformat(checkpoint["expires_at"])
        while datetime.now(deadline.tzinfo) < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        platform.start("executor")
        platform.wait_healthy("executor")
    run = wait_status(gateway, run_id, headers, TERMINAL)
    assert run["status"] == "completed", run
    _timed_out(gateway, run_id, headers, "approve")


def test_cancel_a_queued_run_it_never_starts(platform: Platform, gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"hitl-cancel-q-{uuid.uuid4().hex[:6]}@example.com")
    workflow_id = _workflow(gateway, headers, REVIEWED)["workflow_id"]
    # No executor takes run requests (this one only answers the API), so the run stays queued.
    restart_executor(platform, signal.SIGTERM, ECHO_EXECUTOR_CONSUME="false")
    try:
        run_id = send(gateway, headers, workflow_id)
        assert gateway.get(f"/executions/{run_id}", headers=headers).json()["status"] == "queued"
        r = gateway.post(f"/executions/{run_id}/cancel", headers=headers)
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "cancelled"
    finally:
        restart_executor(platform, signal.SIGTERM)
    # The request was still in the queue; the executor takes it and leaves it alone.
    wait_logged(platform, f"run {run_id}: finished", 0)
    run = gateway.get(f"/executions/{run_id}", headers=headers).json()
    assert run["status"] == "cancelled" and run["started_at"] is None
    assert gateway.get(f"/executions/{run_id}/steps", headers=headers).json()["steps"] == []
    live = asyncio.run(_replay(platform, run_id, headers))
    assert [e["type"] for e in live] == ["run_cancelled"]


async def _replay(platform: Platform, run_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    async with Live(platform, run_id, headers).open() as live:
        return await live.closed()


async def test_cancel_a_running_run_drops_the_step_in_flight(platform: Platform, gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"hitl-cancel-r-{uuid.uuid4().hex[:6]}@example.com")
    definition = {
        "name": "slow",
        "agents": [
            agent("slow", "Slowpoke", "Take your time on {message}", delay_ms=5000),
            agent("nx", "Next", "Then {message}"),
        ],
    }
    run_id = send(gateway, headers, _workflow(gateway, headers, definition)["workflow_id"])
    async with Live(platform, run_id, headers).open() as live:
        await live.until("step_started")
        began = time.monotonic()
        r = await asyncio.to_thread(gateway.post, f"/executions/{run_id}/cancel", headers=headers)
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "running" and r.json()["cancel_requested"] is True
        events = await live.closed()
        ended = time.monotonic() - began
    assert [e["type"] for e in events] == ["run_started", "step_started", "run_cancelled"]
    # It did not wait for the model call (5 s) to come back ...
    assert ended < 4.5, ended
    await asyncio.sleep(max(0.0, 6.0 - (time.monotonic() - began)))
    # ... and when the call did come back, its answer was dropped, not recorded as completed.
    run = wait_status(gateway, run_id, headers, TERMINAL)
    assert run["status"] == "cancelled" and run["output"] is None
    steps = gateway.get(f"/executions/{run_id}/steps", headers=headers).json()["steps"]
    assert [(s["agent_name"], s["status"], s["output"]) for s in steps] == [("Slowpoke", "cancelled", None)]


async def test_cancel_a_paused_run_and_a_finished_one(platform: Platform, gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"hitl-cancel-p-{uuid.uuid4().hex[:6]}@example.com")
    run_id = send(gateway, headers, _workflow(gateway, headers, REVIEWED)["workflow_id"])
    async with Live(platform, run_id, headers).open() as live:
        await live.until("run_paused")
        checkpoint = await asyncio.to_thread(pending_checkpoint, gateway, run_id, headers)
        r = await asyncio.to_thread(gateway.post, f"/executions/{run_id}/cancel", headers=headers)
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "cancelled"  # at once: nothing was running
        events = await live.closed()
    assert [e["type"] for e in events] == ["run_started", *STEP, *STEP, "run_paused", "run_cancelled"]
    [closed] = checkpoints(gateway, run_id, headers)
    assert closed["status"] == "cancelled" and closed["decided_by"] is None
    r = decide(gateway, run_id, checkpoint["checkpoint_id"], headers, action="approve")
    assert r.status_code == 409 and r.json()["error"] == "run_finished"
    # Finished (cancelled, or completed) → 409.
    r = gateway.post(f"/executions/{run_id}/cancel", headers=headers)
    assert r.status_code == 409 and r.json()["error"] == "run_finished"
    plain = {"name": "plain", "agents": [agent("pl", "Plain", "Just {message}")]}
    done = send(gateway, headers, _workflow(gateway, headers, plain)["workflow_id"])
    assert wait_status(gateway, done, headers, TERMINAL)["status"] == "completed"
    r = gateway.post(f"/executions/{done}/cancel", headers=headers)
    assert r.status_code == 409 and r.json()["error"] == "run_finished"


def _inbox(gateway: httpx.Client, headers: dict[str, str], **params: Any) -> httpx.Response:
    return gateway.get("/checkpoints", params=params, headers=headers)


def test_the_inbox_lists_only_the_callers_checkpoints_newest_first(platform: Platform, gateway: httpx.Client) -> None:
    alice = register_and_login(gateway, f"inbox-alice-{uuid.uuid4().hex[:6]}@example.com")
    bob = register_and_login(gateway, f"inbox-bob-{uuid.uuid4().hex[:6]}@example.com")

    def solo(name: str) -> dict[str, Any]:
        return {"name": name, "agents": [agent("solo", "Solo", "Answer {message}", hitl={"mode": "approval"})]}

    workflows = {w["workflow_id"]: w["name"] for w in (_workflow(gateway, alice, solo(f"inbox {n}")) for n in "abc")}
    runs = {send(gateway, alice, wid, f"question {i}"): wid for wid in workflows for i in range(20)}
    bob_workflow = _workflow(gateway, bob, solo("bob's"))["workflow_id"]
    bob_runs = {send(gateway, bob, bob_workflow) for _ in range(2)}
    deadline = time.monotonic() + 180
    while (
        len(_inbox(gateway, alice, status="pending", limit=200).json()["items"]) < 60
        or len(_inbox(gateway, bob, status="pending").json()["items"]) < 2  # sent last, so they pause last
    ):
        assert time.monotonic() < deadline, "not every run paused"
        time.sleep(0.5)

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    sizes = []
    while True:
        params: dict[str, Any] = {"status": "pending", "limit": 25} | ({"cursor": cursor} if cursor else {})
        r = _inbox(gateway, alice, **params)
        assert r.status_code == 200, r.text
        page = r.json()
        sizes.append(len(page["items"]))
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [25, 25, 10]
    assert len({c["checkpoint_id"] for c in seen}) == 60
    assert {c["run_id"] for c in seen} == set(runs)
    keys = [(c["created_at"], c["checkpoint_id"]) for c in seen]
    assert keys == sorted(keys, reverse=True)  # newest first, the same order across pages
    for c in seen:
        assert c["workflow_id"] == runs[c["run_id"]] and c["workflow_name"] == workflows[c["workflow_id"]]
        assert (c["agent_name"], c["status"], c["expires_at"]) == ("Solo", "pending", None)
        assert c["output"].startswith("Solo: Answer question ")
    one = next(iter(workflows))
    filtered = _inbox(gateway, alice, status="pending", workflow_id=one, limit=200).json()
    assert len(filtered["items"]) == 20 and {c["workflow_id"] for c in filtered["items"]} == {one}
    assert _inbox(gateway, alice, status="approved").json() == {"items": [], "next_cursor": None}
    theirs = _inbox(gateway, bob, status="pending").json()["items"]
    assert {c["run_id"] for c in theirs} == bob_runs
    assert _inbox(gateway, alice, cursor="not-a-cursor").status_code == 400
    assert _inbox(gateway, alice, status="maybe").status_code == 400

    for run_id in [*runs, *bob_runs]:
        owner = bob if run_id in bob_runs else alice
        assert gateway.post(f"/executions/{run_id}/cancel", headers=owner).status_code == 202
    assert _inbox(gateway, alice, status="pending").json()["items"] == []
    assert len(_inbox(gateway, alice, status="cancelled", limit=200).json()["items"]) == 60
