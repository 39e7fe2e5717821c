"""Each execution model, run by the real consumer with CrewAI and the echo model, seen through events and the API."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.integration.executor.conftest import Executor, agent

pytestmark = pytest.mark.integration


def _types(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.type for e in events]


async def test_sequential_in_order_with_context_and_gap_free_seq(executor: Executor) -> None:
    definition = {
        "execution_model": "sequential",
        "agents": [
            agent("w", "Writer", 'Write about {message} for {audience}; keep {unknown} and {"json": 1}'),
            agent("r", "Researcher", "Research {message}"),
        ],
        # Connection order wins over list order.
        "connections": [{"from": "r", "to": "w"}],
    }
    request = await executor.submit(definition, message="tides", inputs={"audience": "children"})
    events = await executor.tap.until_terminal(request.run_id)

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert _types(events) == [
        "run_started",
        "step_started", "step_output", "step_completed",
        "step_started", "step_output", "step_completed",
        "run_completed",
    ]  # fmt: skip
    assert [e.step_id for e in events if e.type == "step_started"] == ["r", "w"]
    assert all(e.agent_id for e in events if e.type.startswith("step_"))
    run = await executor.finished(request.run_id)
    assert run["status"] == "completed"
    assert run["last_seq"] == len(events)
    assert run["output"] == events[-1].data["output"]
    # The echo answer names the role, fills known placeholders, keeps unknown ones, and saw the earlier step.
    assert run["output"].startswith('Writer: Write about tides for children; keep {unknown} and {"json": 1}')
    assert "[built on: Researcher]" in run["output"]
    steps = await executor.steps(request.run_id)
    assert [(s["step_id"], s["status"]) for s in steps] == [("r", "completed"), ("w", "completed")]
    assert steps[0]["output"] == "Researcher: Research tides"


async def test_parallel_runs_independent_agents_at_the_same_time(executor: Executor) -> None:
    definition = {
        "execution_model": "parallel",
        "agents": [
            agent("a", "Analyst", "Analyse {message}", delay_ms=500),
            agent("b", "Critic", "Criticise {message}", delay_ms=500),
            agent("j", "Editor", "Merge the views on {message}"),
        ],
        "connections": [{"from": "a", "to": "j"}, {"from": "b", "to": "j"}],
    }
    request = await executor.submit(definition, message="bridges")
    events = await executor.tap.until_terminal(request.run_id)
    assert events[-1].type == "run_completed"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    steps = {s["step_id"]: s for s in await executor.steps(request.run_id)}
    span = {
        k: (datetime.fromisoformat(s["started_at"]), datetime.fromisoformat(s["completed_at"]))
        for k, s in steps.items()
    }
    # a and b overlap in time; j starts only after both ended.
    assert span["a"][0] < span["b"][1] and span["b"][0] < span["a"][1]
    assert span["j"][0] >= max(span["a"][1], span["b"][1])
    run = await executor.finished(request.run_id)
    assert run["output"].startswith("Editor: Merge the views on bridges")
    assert "Analyst" in run["output"] and "Critic" in run["output"]


async def test_hierarchical_manager_delegates_and_each_worker_is_a_step(executor: Executor) -> None:
    definition = {
        "execution_model": "hierarchical",
        "manager": {"llm": {"provider": "echo"}},
        "agents": [agent("p", "Planner", "Plan {message}"), agent("d", "Doer", "Do {message}")],
    }
    request = await executor.submit(definition, message="a picnic")
    events = await executor.tap.until_terminal(request.run_id)
    assert events[-1].type == "run_completed"
    assert [e.step_id for e in events if e.type == "step_completed"] == ["manager", "p", "d"]
    run = await executor.finished(request.run_id)
    assert run["output"].startswith("Doer: Do a picnic")
    assert "Manager" in run["output"] and "Planner" in run["output"]


async def test_failing_step_fails_the_run_and_keeps_the_error(executor: Executor) -> None:
    definition = {
        "agents": [
            agent("x", "Breaker", "Try {message}", fail_with="the model refused: quota exhausted"),
            agent("y", "Never", "Never runs"),
        ]
    }
    request = await executor.submit(definition, message="it")
    events = await executor.tap.until_terminal(request.run_id)
    assert _types(events) == ["run_started", "step_started", "step_failed", "run_failed"]
    assert "quota exhausted" in events[2].data["error"]
    assert "quota exhausted" in events[3].data["error"]
    run = await executor.finished(request.run_id)
    assert run["status"] == "failed" and "quota exhausted" in run["error"]
    steps = await executor.steps(request.run_id)
    assert [(s["step_id"], s["status"]) for s in steps] == [("x", "failed")]
