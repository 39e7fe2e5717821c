from __future__ import annotations

from typing import Any

import pytest

from services.executor.domain.plan import (
    DefinitionError,
    StepSpec,
    build_plan,
    delegation_order,
    interpolate,
    parse_llm,
    run_output,
    step_prompt,
)


def _agent(agent_id: str, **extra: Any) -> dict[str, Any]:
    return {"agent_id": agent_id, "name": agent_id.upper(), "task": {"description": f"do {agent_id}"}, **extra}


def test_interpolate_fills_known_and_keeps_unknown_and_json() -> None:
    text = 'Hi {message}, {n} items, {unknown}, {"k": 1}, {{double}}'
    assert interpolate(text, {"message": "Ada", "n": 3}) == 'Hi Ada, 3 items, {unknown}, {"k": 1}, {{double}}'


def test_sequential_uses_connection_order_else_list_order() -> None:
    agents = [_agent("a"), _agent("b"), _agent("c")]
    plan = build_plan({"agents": agents})
    assert [s.step_id for s in plan.steps] == ["a", "b", "c"]
    assert plan.steps[1].depends_on == ("a",)
    plan = build_plan({"agents": agents, "connections": [{"from": "c", "to": "a"}, {"from": "a", "to": "b"}]})
    assert [s.step_id for s in plan.steps] == ["c", "a", "b"]


def test_parallel_dependencies_follow_connections() -> None:
    definition = {
        "execution_model": "parallel",
        "agents": [_agent("j"), _agent("a"), _agent("b")],
        "connections": [{"from": "a", "to": "j"}, {"from": "b", "to": "j"}],
    }
    plan = build_plan(definition)
    deps = {s.step_id: set(s.depends_on) for s in plan.steps}
    assert deps == {"a": set(), "b": set(), "j": {"a", "b"}}
    assert [s.step_id for s in plan.sinks] == ["j"]


@pytest.mark.parametrize(
    ("definition", "fragment"),
    [
        ({"agents": []}, "no agents"),
        ({"execution_model": "swarm", "agents": [_agent("a")]}, "swarm"),
        ({"agents": [_agent("a"), _agent("a")]}, "unique"),
        ({"agents": [_agent("a")], "connections": [{"from": "a", "to": "zz"}]}, "'zz'"),
        (
            {"agents": [_agent("a"), _agent("b")], "connections": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]},
            "cycle",
        ),
        ({"agents": [_agent("a", tools="calculator")]}, "list of tool ids"),
        ({"agents": [_agent("a", llm=3)]}, "llm"),
    ],
)
def test_bad_definitions_say_what_to_fix(definition: dict[str, Any], fragment: str) -> None:
    with pytest.raises(DefinitionError, match=fragment):
        build_plan(definition)


def test_defaults_and_extra_tools() -> None:
    plan = build_plan({"agents": [{"role": "Scout", "tools": ["t1"]}]}, message="go", extra_tool_ids=["t2", "t1"])
    step = plan.steps[0]
    assert (step.step_id, step.name, step.role, step.description) == ("agent-1", "Scout", "Scout", "go")
    assert step.tool_ids == ("t1", "t2")
    assert step.llm == {"provider": "echo", "model": "echo-1"}


def test_parse_llm() -> None:
    assert parse_llm(None, "echo/echo-1") == {"provider": "echo", "model": "echo-1"}
    assert parse_llm("openai/gpt-4o-mini", "echo/echo-1") == {"provider": "openai", "model": "gpt-4o-mini"}
    assert parse_llm({"delay_ms": 5}, "echo/echo-1") == {"provider": "echo", "model": "echo-1", "delay_ms": 5}


def test_hierarchical_has_a_manager_and_delegation_order() -> None:
    plan = build_plan(
        {"execution_model": "hierarchical", "agents": [_agent("w1", role="Writer"), _agent("r1", role="Researcher")]},
        message="m",
    )
    assert plan.manager is not None and plan.manager.step_id == "manager"
    assert all(s.depends_on == ("manager",) for s in plan.steps)
    assert "w1: Writer" in plan.manager.description and "r1: Researcher" in plan.manager.description
    order = delegation_order("First the researcher (r1), then w1.", plan.steps)
    assert [s.step_id for s in order] == ["r1", "w1"]
    assert [s.step_id for s in delegation_order("no idea", plan.steps)] == ["w1", "r1"]


def test_step_prompt_and_run_output() -> None:
    a = StepSpec("a", "a", "Alpha", "Alpha", "g", "", "do a", "x", {})
    b = StepSpec("b", "b", "Beta", "Beta", "g", "", "do b", "x", {})
    prompt = step_prompt(b, [(a, "A says hi")])
    assert prompt.startswith("do b\n\nResults of the earlier steps:\n--- Alpha (a) ---\nA says hi")
    assert step_prompt(a, []) == "do a"
    plan = build_plan({"execution_model": "parallel", "agents": [_agent("a"), _agent("b")]})
    assert run_output(plan, {"a": "1", "b": "2"}, ["a", "b"]) == "A:\n1\n\nB:\n2"
    seq = build_plan({"agents": [_agent("a"), _agent("b")]})
    assert run_output(seq, {"a": "1", "b": "2"}, ["a", "b"]) == "2"


def test_hitl_is_parsed_with_a_cautious_default() -> None:
    plan = build_plan(
        {
            "agents": [
                _agent("a", hitl={"mode": "approval"}),
                _agent("b", hitl={"mode": "approval", "timeout_s": 2, "on_timeout": "approve"}),
                _agent("c"),
            ]
        }
    )
    a, b, c = plan.steps
    assert a.hitl is not None and (a.hitl.timeout_s, a.hitl.on_timeout) == (None, "reject")
    assert b.hitl is not None and (b.hitl.timeout_s, b.hitl.on_timeout) == (2.0, "approve")
    assert c.hitl is None


@pytest.mark.parametrize(
    ("hitl", "fragment"),
    [
        ("yes", "must be an object"),
        ({"mode": "vote"}, 'mode must be "approval"'),
        ({"mode": "approval", "timeout_s": 0}, "timeout_s must be a number"),
        ({"mode": "approval", "timeout_s": True}, "timeout_s must be a number"),
        ({"mode": "approval", "timeout_s": 10**9}, "at most"),
        ({"mode": "approval", "on_timeout": "maybe"}, 'on_timeout must be "approve" or "reject"'),
    ],
)
def test_bad_hitl_says_what_to_fix(hitl: Any, fragment: str) -> None:
    with pytest.raises(DefinitionError, match=fragment):
        build_plan({"agents": [_agent("a", hitl=hitl)]})
