"""`--follow` when the stream cannot be replayed whole: it says so and finishes from the recorded steps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from echoai_cli.follow import follow
from echoai_cli.output import Out
from echoai_client import StreamGap
from echoai_client.models import Event, Run, RunSteps


class GappyClient:
    """Delivers the first step's events, then the gateway no longer has the rest."""

    def stream(self, run_id: str) -> Iterator[Event]:
        base = {"run_id": run_id, "ts": "2026-01-01T00:00:00Z"}
        yield Event.model_validate({**base, "type": "run_started", "seq": 1})
        yield Event.model_validate(
            {**base, "type": "step_started", "seq": 2, "step_id": "a", "data": {"agent_name": "A"}}
        )
        yield Event.model_validate(
            {**base, "type": "step_completed", "seq": 3, "step_id": "a", "data": {"output": "one"}}
        )
        raise StreamGap(run_id, 3, 7)

    def wait(self, run_id: str) -> Run:
        return Run.model_validate({"run_id": run_id, "workflow_id": "w", "status": "completed", "output": "two"})

    def run_steps(self, run_id: str) -> RunSteps:
        steps: list[dict[str, Any]] = [
            {"step_id": "a", "agent_name": "A", "status": "completed", "output": "one"},
            {"step_id": "b", "agent_name": "B", "status": "completed", "output": "two"},
        ]
        return RunSteps.model_validate({"run_id": run_id, "status": "completed", "steps": steps})

    def get_run(self, run_id: str) -> Run:
        return self.wait(run_id)


def test_a_gap_finishes_from_the_recorded_steps(capsys: pytest.CaptureFixture[str]) -> None:
    code = follow(GappyClient(), Out(), "r")  # type: ignore[arg-type]
    out, err = capsys.readouterr()
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("✓ A") and lines[1].startswith("✓ B  ") and "two" in lines[1]
    assert "run completed" in out and "seq 4..6" in err and "recorded steps" in err
