"""What `echoai run --follow` prints for a run's events."""

from __future__ import annotations

from typing import Any

from echoai_cli.follow import RunView
from echoai_cli.output import short
from echoai_client.models import Event


def ev(seq: int, type_: str, step: str | None = None, ts: str = "2026-01-01T00:00:00Z", **data: Any) -> Event:
    return Event.model_validate({"type": type_, "run_id": "r", "seq": seq, "ts": ts, "step_id": step, "data": data})


def test_steps_settle_with_duration_output_and_tool_calls() -> None:
    view = RunView("r")
    assert view.apply(ev(1, "run_started")) is None
    assert view.apply(ev(2, "step_started", "a", "2026-01-01T00:00:01Z", agent_name="Researcher")) is None
    view.apply(ev(3, "step_output", "a", kind="tool", tool="calculator", input={"expression": "6*7"}, output="42"))
    done = view.apply(
        ev(4, "step_completed", "a", "2026-01-01T00:00:03.5Z", output="notes\nmore", agent_name="Researcher")
    )
    assert done is not None
    line = done.line().plain
    assert line.startswith("✓ Researcher  2.5s  notes") and "↳ calculator(" in line and "= 42" in line
    view.apply(ev(5, "step_started", "b", agent_name="Writer"))
    failed = view.apply(ev(6, "step_failed", "b", error="boom"))
    assert failed is not None and failed.line().plain.startswith("✗ Writer") and "failed: boom" in failed.line().plain
    view.apply(ev(7, "run_failed", error="boom"))
    assert view.status == "failed" and "boom" in view.summary().plain


def test_a_pause_names_the_command_that_approves() -> None:
    view = RunView("r")
    view.apply(ev(1, "step_started", "a", agent_name="Drafter"))
    view.apply(ev(2, "step_completed", "a", output="draft"))
    paused = view.apply(ev(3, "run_paused", checkpoint_id="c-1"))
    assert paused is not None and view.status == "paused"
    assert "echoai approve c-1" in paused.line().plain and paused.line().plain.startswith("⏸ Drafter")


def test_short() -> None:
    assert short("first\nsecond") == "first" and short(None) == "" and short("x" * 200, 10) == "x" * 9 + "…"
