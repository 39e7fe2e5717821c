"""`echoai_client` and human approval: the inbox, a run's checkpoints, approve / edit / reject."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from echoai_client import Client, Conflict, Event
from tests.e2e.clientkit import client_for, pipeline
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e


def gated(name: str) -> dict[str, Any]:
    """Drafter (waits for approval), then Publisher."""
    definition = pipeline(name, ["Drafter", "Publisher"])
    definition["agents"][0]["hitl"] = {"mode": "approval"}
    return definition


def until_paused(echo: Client, run_id: str) -> tuple[list[Event], str]:
    events = []
    for event in echo.stream(run_id):
        events.append(event)
        if event.type == "run_paused":
            return events, str(event.data["checkpoint_id"])
    raise AssertionError(f"the run ended without pausing: {[e.type for e in events]}")


def test_inbox_and_approve(platform: Platform, gateway: httpx.Client) -> None:
    with client_for(platform, gateway, "client-hitl") as echo:
        workflow = echo.save_workflow(gated("Gated"), save_as="final")
        run_id = echo.send(workflow.workflow_id, "the draft").run_id
        events, checkpoint_id = until_paused(echo, run_id)
        assert echo.get_run(run_id).status == "paused"

        inbox = echo.inbox()
        item = next(c for c in inbox.items if c.checkpoint_id == checkpoint_id)
        assert (item.run_id, item.workflow_id, item.status) == (run_id, workflow.workflow_id, "pending")
        assert item.agent_name == "Drafter" and item.output and "the draft" in item.output
        assert [c.checkpoint_id for c in echo.list_checkpoints(run_id)] == [checkpoint_id]

        echo.decide(checkpoint_id, "approve", comment="fine")  # the run is found through the inbox
        rest = list(echo.stream(run_id, after_seq=events[-1].seq))
        seqs = [e.seq for e in events + rest]
        assert seqs == list(range(1, len(seqs) + 1))
        assert rest[-1].type == "run_completed"
        assert [c.status for c in echo.list_checkpoints(run_id)] == ["approved"]
        assert checkpoint_id not in {c.checkpoint_id for c in echo.paginate(echo.inbox)}
        with pytest.raises(Conflict):
            echo.decide(checkpoint_id, "approve", run_id=run_id)


def test_edit_and_reject(platform: Platform, gateway: httpx.Client) -> None:
    with client_for(platform, gateway, "client-hitl-edit") as echo:
        workflow = echo.save_workflow(gated("Gated edit"), save_as="final")
        edited_run = echo.send(workflow.workflow_id, "to edit").run_id
        _, checkpoint_id = until_paused(echo, edited_run)
        echo.decide(checkpoint_id, "edit", run_id=edited_run, output="a better draft")
        assert echo.wait(edited_run, timeout=60).status == "completed"
        assert echo.list_checkpoints(edited_run)[0].status == "edited"
        drafter = next(s for s in echo.run_steps(edited_run).steps if s.agent_name == "Drafter")
        assert drafter.output == "a better draft"

        rejected_run = echo.send(workflow.workflow_id, "to reject").run_id
        _, checkpoint_id = until_paused(echo, rejected_run)
        echo.decide(checkpoint_id, "reject", comment="not good enough")
        run = echo.wait(rejected_run, timeout=60)
        assert run.status == "failed" and "not good enough" in (run.error or "")
