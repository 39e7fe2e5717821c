"""Runs that wait for a person, end to end through the gateway (all four services as processes): approve, edit and
reject on one WebSocket; two decisions at once; a stranger; a parallel run whose middle step pauses; the
executor's run metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import register_and_login
from tests.e2e.test_runs import _agent, _messages, _session, _token, _workflow
from tests.support.metrics import scrape
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

TERMINAL = ("completed", "failed", "cancelled")


agent = _agent


# Researcher → Reviewer (a person approves its output) → Writer, who repeats what it was given.
REVIEWED: dict[str, Any] = {
    "name": "reviewed pipeline",
    "execution_model": "sequential",
    "agents": [
        agent("r", "Researcher", "Research {message}"),
        agent("v", "Reviewer", "Review {message}", hitl={"mode": "approval"}),
        agent("w", "Writer", "Write about {message}", repeat_context=True),
    ],
}


class Live:
    """One WebSocket on a run, read in the background from seq 1 until the server closes it."""

    def __init__(self, platform: Platform, run_id: str, headers: dict[str, str]):
        self.url = f"{platform.ws_url}/ws/execution/{run_id}?token={_token(headers)}&after_seq=0"
        self.events: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async with connect(self.url) as ws:
            async for raw in ws:
                self.events.append(json.loads(raw))
            self.close_code = ws.close_code

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[Live]:
        self._task = asyncio.create_task(self._read())
        try:
            yield self
        finally:
            if not self._task.done():
                self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    async def until(self, type_: str, count: int = 1, timeout: float = 60) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while self.types.count(type_) < count:
                assert self._task is not None
                if self._task.done():
                    self._task.result()
                    raise AssertionError(f"the socket closed before {count} {type_}: {self.types}")
                await asyncio.sleep(0.02)
        return [e for e in self.events if e["type"] == type_][count - 1]

    async def closed(self, timeout: float = 60) -> list[dict[str, Any]]:
        assert self._task is not None
        async with asyncio.timeout(timeout):
            await self._task
        return self.events


def ids(workflow: dict[str, Any]) -> dict[str, str]:
    """Agent name → the agent_id the workflow service stored (short ids are mapped to UUIDs on save)."""
    return {a["name"]: a["agent_id"] for a in workflow["definition"]["agents"]}


def user_id(gateway: httpx.Client, headers: dict[str, str]) -> str:
    return str(gateway.get("/auth/me", headers=headers).json()["user_id"])


def send(gateway: httpx.Client, headers: dict[str, str], workflow_id: str, message: str = "the tides") -> str:
    r = gateway.post("/workflows/chat/send", json={"workflow_id": workflow_id, "message": message}, headers=headers)
    assert r.status_code == 202, r.text
    return str(r.json()["run_id"])


def wait_status(
    gateway: httpx.Client, run_id: str, headers: dict[str, str], statuses: tuple[str, ...], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = dict(gateway.get(f"/executions/{run_id}", headers=headers).json())
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"run {run_id} is still {body['status']}, wanted {statuses}"
        time.sleep(0.05)


def checkpoints(gateway: httpx.Client, run_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = gateway.get(f"/executions/{run_id}/checkpoints", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def pending_checkpoint(gateway: httpx.Client, run_id: str, headers: dict[str, str]) -> dict[str, Any]:
    wait_status(gateway, run_id, headers, ("paused",))
    items = [c for c in checkpoints(gateway, run_id, headers) if c["status"] == "pending"]
    assert len(items) == 1, items
    return items[0]


def decide(
    gateway: httpx.Client, run_id: str, checkpoint_id: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return gateway.post(f"/executions/{run_id}/checkpoints/{checkpoint_id}/decision", json=body, headers=headers)


def started_per_step(events: list[dict[str, Any]]) -> Counter[str]:
    """How many times each agent's model work began over the whole run: a resumed run must not redo any."""
    return Counter(e["data"]["agent_name"] for e in events if e["type"] == "step_started")


STEP = ["step_started", "step_output", "step_completed"]


@pytest.mark.parametrize("action", ["approve", "edit", "reject"])
async def test_a_person_decides_and_the_socket_shows_the_whole_run(
    platform: Platform, gateway: httpx.Client, action: str
) -> None:
    headers = register_and_login(gateway, f"hitl-{action}-{uuid.uuid4().hex[:6]}@example.com")
    me = user_id(gateway, headers)
    workflow = _workflow(gateway, headers, REVIEWED)
    reviewer_id = ids(workflow)["Reviewer"]
    run_id = send(gateway, headers, workflow["workflow_id"])
    async with Live(platform, run_id, headers).open() as live:
        paused = await live.until("run_paused")
        checkpoint = await asyncio.to_thread(pending_checkpoint, gateway, run_id, headers)
        original = checkpoint["output"]
        assert original.startswith("Reviewer: Review the tides")
        assert paused["data"] == {
            "checkpoint_id": checkpoint["checkpoint_id"],
            "step_id": reviewer_id,
            "agent_id": reviewer_id,
            "agent_name": "Reviewer",
            "output": original,
            "expires_at": None,
            "pending": 1,
        }
        assert checkpoint["expires_at"] is None and checkpoint["decided_at"] is None
        assert (checkpoint["workflow_id"], checkpoint["workflow_name"]) == (
            workflow["workflow_id"],
            "reviewed pipeline",
        )
        # Paused means nothing runs: the Writer has not started, and stays so while nobody decides.
        await asyncio.sleep(0.5)
        assert "Writer" not in started_per_step(live.events)

        body: dict[str, Any] = {"action": action, "comment": f"{action} by the editor"}
        if action == "edit":
            body["output"] = "EDITED-BY-A-PERSON: the tides follow the moon"
        r = await asyncio.to_thread(decide, gateway, run_id, checkpoint["checkpoint_id"], headers, **body)
        assert r.status_code == 200, r.text
        decided = r.json()
        events = await live.closed()
        assert live.close_code == 1000

    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    before = ["run_started", *STEP, *STEP, "run_paused"]
    if action == "reject":
        assert [e["type"] for e in events] == [*before, "run_failed"]
        assert events[-1]["data"]["error"] == "reject by the editor"
    else:
        assert [e["type"] for e in events] == [*before, "run_resumed", *STEP, "run_completed"]
        resumed = events[len(before)]["data"]
        assert resumed["reason"] == ("edited" if action == "edit" else "approved")
        assert resumed["checkpoint_id"] == checkpoint["checkpoint_id"]
    steps_run = {"Researcher": 1, "Reviewer": 1} | ({} if action == "reject" else {"Writer": 1})
    assert started_per_step(events) == Counter(steps_run)

    run = await asyncio.to_thread(wait_status, gateway, run_id, headers, TERMINAL)
    status = {"approve": "approved", "edit": "edited", "reject": "rejected"}[action]
    assert decided["status"] == status and decided["reason"] == "person" and decided["decided_by"] == me
    assert decided["comment"] == f"{action} by the editor" and decided["decided_at"] is not None
    assert decided["output"] == original  # the audit keeps what was under review
    if action == "reject":
        assert run["status"] == "failed" and run["error"] == "reject by the editor"
        return
    assert run["status"] == "completed" and run["output"] == events[-1]["data"]["output"]
    assert run["output"].startswith("Writer: Write about the tides [built on: Researcher, Reviewer]")
    steps = gateway.get(f"/executions/{run_id}/steps", headers=headers).json()["steps"]
    reviewer = next(s for s in steps if s["step_id"] == reviewer_id)
    if action == "edit":
        # The Writer was given the edited text, never the original; it is the step's output from now on.
        assert "EDITED-BY-A-PERSON: the tides follow the moon" in run["output"]
        assert original not in run["output"]
        assert reviewer["output"] == "EDITED-BY-A-PERSON: the tides follow the moon"
        assert decided["edited_output"] == "EDITED-BY-A-PERSON: the tides follow the moon"
    else:
        assert original in run["output"] and reviewer["output"] == original
    assert [c["status"] for c in checkpoints(gateway, run_id, headers)] == [status]


async def test_one_decision_wins_and_only_the_owner_may_decide(platform: Platform, gateway: httpx.Client) -> None:
    alice = register_and_login(gateway, f"hitl-alice-{uuid.uuid4().hex[:6]}@example.com")
    bob = register_and_login(gateway, f"hitl-bob-{uuid.uuid4().hex[:6]}@example.com")
    run_id = send(gateway, alice, _workflow(gateway, alice, REVIEWED)["workflow_id"])
    checkpoint = pending_checkpoint(gateway, run_id, alice)
    path = f"/executions/{run_id}/checkpoints/{checkpoint['checkpoint_id']}/decision"

    # Someone else's run: not found, whatever they try, and the checkpoint stays pending.
    r = gateway.post(path, json={"action": "approve"}, headers=bob)
    assert r.status_code == 404 and r.json()["error"] == "run_not_found"
    assert gateway.get(f"/executions/{run_id}/checkpoints", headers=bob).status_code == 404
    assert all(c["checkpoint_id"] != checkpoint["checkpoint_id"] for c in gateway.get(
        "/checkpoints", headers=bob).json()["items"])  # fmt: skip
    # A bad decision says what to fix.
    r = gateway.post(path, json={"action": "edit", "output": "  "}, headers=alice)
    assert r.status_code == 422 and "non-empty `output`" in r.text
    r = gateway.post(path, json={"action": "maybe"}, headers=alice)
    assert r.status_code == 422
    r = gateway.post(
        f"/executions/{run_id}/checkpoints/{uuid.uuid4()}/decision", json={"action": "approve"}, headers=alice
    )
    assert r.status_code == 404 and r.json()["error"] == "checkpoint_not_found"
    assert checkpoints(gateway, run_id, alice)[0]["status"] == "pending"

    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as client:
        answers = await asyncio.gather(
            client.post(path, json={"action": "approve", "comment": "first"}, headers=alice),
            client.post(path, json={"action": "edit", "output": "second", "comment": "second"}, headers=alice),
        )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    assert loser.json()["error"] == "checkpoint_decided"
    winner = next(a for a in answers if a.status_code == 200).json()
    assert gateway.post(path, json={"action": "reject"}, headers=alice).status_code == 409
    run = wait_status(gateway, run_id, alice, TERMINAL)
    assert run["status"] == "completed"
    [stored] = checkpoints(gateway, run_id, alice)
    assert stored["status"] == winner["status"] and stored["comment"] == winner["comment"]


# F first; then M (a person reviews it) and S (slow) side by side; Z needs M, Y needs S.
PARALLEL: dict[str, Any] = {
    "name": "parallel review",
    "execution_model": "parallel",
    "agents": [
        agent("f", "First", "Start on {message}"),
        agent("m", "Middle", "Check {message}", hitl={"mode": "approval"}),
        agent("s", "Slow", "Dig into {message}", delay_ms=1500),
        agent("z", "AfterMiddle", "Conclude {message}"),
        agent("y", "AfterSlow", "Summarise {message}"),
    ],
    "connections": [
        {"from": "agt_f", "to": "agt_m"},
        {"from": "agt_f", "to": "agt_s"},
        {"from": "agt_m", "to": "agt_z"},
        {"from": "agt_s", "to": "agt_y"},
    ],
}


async def test_parallel_siblings_finish_and_nothing_new_starts_until_the_decision(
    platform: Platform, gateway: httpx.Client
) -> None:
    headers = register_and_login(gateway, f"hitl-par-{uuid.uuid4().hex[:6]}@example.com")
    workflow = _workflow(gateway, headers, PARALLEL)
    run_id = send(gateway, headers, workflow["workflow_id"])
    async with Live(platform, run_id, headers).open() as live:
        await live.until("run_paused")
        await asyncio.sleep(1.0)  # long enough for anything that would wrongly start to show up
        before = list(live.events)
        completed = [e["data"]["agent_name"] for e in before if e["type"] == "step_completed"]
        # The slow sibling was already running when Middle paused: it finished and was recorded first ...
        assert sorted(completed) == ["First", "Middle", "Slow"]
        assert before[-1]["type"] == "run_paused"
        # ... and AfterSlow, ready once Slow finished, did not start: nothing new starts while a decision waits.
        assert set(started_per_step(before)) == {"First", "Middle", "Slow"}
        checkpoint = await asyncio.to_thread(pending_checkpoint, gateway, run_id, headers)
        assert checkpoint["step_id"] == ids(workflow)["Middle"]
        r = await asyncio.to_thread(decide, gateway, run_id, checkpoint["checkpoint_id"], headers, action="approve")
        assert r.status_code == 200, r.text
        events = await live.closed()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    after = events[len(before) :]
    assert after[0]["type"] == "run_resumed" and after[-1]["type"] == "run_completed"
    assert started_per_step(events) == Counter({s: 1 for s in ("First", "Middle", "Slow", "AfterMiddle", "AfterSlow")})
    run = wait_status(gateway, run_id, headers, TERMINAL)
    assert run["status"] == "completed"
    assert "AfterMiddle: Conclude the tides" in run["output"] and "AfterSlow: Summarise the tides" in run["output"]


async def test_run_metrics_are_scraped(platform: Platform, gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"hitl-metrics-{uuid.uuid4().hex[:6]}@example.com")
    start = scrape(platform, "executor")
    run_id = send(gateway, headers, _workflow(gateway, headers, REVIEWED)["workflow_id"])
    checkpoint = pending_checkpoint(gateway, run_id, headers)
    deadline = time.monotonic() + 20
    while scrape(platform, "executor").value("echoai_checkpoints_pending") < 1:  # refreshed by the sweeper
        assert time.monotonic() < deadline, "echoai_checkpoints_pending never counted the pending checkpoint"
        await asyncio.sleep(0.2)
    paused = scrape(platform, "executor")
    assert paused.value("echoai_runs_in_flight") == 0  # a paused run holds no executor
    assert decide(gateway, run_id, checkpoint["checkpoint_id"], headers, action="approve").status_code == 200
    assert wait_status(gateway, run_id, headers, TERMINAL)["status"] == "completed"
    end = scrape(platform, "executor")
    assert (
        end.value("echoai_runs_total", status="completed") == start.value("echoai_runs_total", status="completed") + 1
    )
    assert end.value("echoai_run_duration_seconds_count") > start.value("echoai_run_duration_seconds_count")
    assert end.value("echoai_step_duration_seconds_count") >= start.value("echoai_step_duration_seconds_count") + 3


async def test_a_session_hears_nothing_until_the_run_ends_and_a_late_joiner_replays_it_all(
    platform: Platform, gateway: httpx.Client
) -> None:
    headers = register_and_login(gateway, f"hitl-session-{uuid.uuid4().hex[:6]}@example.com")
    workflow_id = _workflow(gateway, headers, REVIEWED)["workflow_id"]
    session_id = _session(gateway, headers)
    r = gateway.post(
        "/workflows/chat/send",
        json={"workflow_id": workflow_id, "message": "the tides", "session_id": session_id},
        headers=headers,
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    checkpoint = pending_checkpoint(gateway, run_id, headers)
    await asyncio.sleep(0.5)
    messages = gateway.get(f"/sessions/{session_id}", headers=headers).json()["messages"]
    assert [(m["role"], m["run_id"]) for m in messages] == [("user", run_id)]
    # Joining while it waits: the socket replays everything up to the pause, then stays open for the rest.
    async with Live(platform, run_id, headers).open() as live:
        await live.until("run_paused")
        assert decide(gateway, run_id, checkpoint["checkpoint_id"], headers, action="approve").status_code == 200
        events = await live.closed()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events][-len(STEP) - 2 :] == ["run_resumed", *STEP, "run_completed"]
    run = wait_status(gateway, run_id, headers, TERMINAL)
    messages = _messages(gateway, session_id, headers, 2)
    assert [(m["role"], m["run_id"]) for m in messages] == [("user", run_id), ("assistant", run_id)]
    assert messages[1]["content"] == run["output"]
