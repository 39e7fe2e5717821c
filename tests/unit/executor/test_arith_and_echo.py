from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.executor.domain import echo
from services.executor.domain.arith import ArithmeticError_, evaluate
from shared.contracts import SessionRunSetup


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2+3", 5),
        ("17*23", 391),
        ("(7-2)**2", 25),
        ("7/2", 3.5),
        ("7//2", 3),
        ("-3 % 5", 2),
        ("2^10", 1024),
        ("1e3", 1000),
    ],
)
def test_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "x + 1",
        "len('a')",
        "(1).real",
        "[1, 2]",
        "1 if 1 else 2",
        "9**9**9",
        "10**400",
        "1/0",
        "",
        "2 +",
    ],
)
def test_arithmetic_refuses_everything_else(expression: str) -> None:
    with pytest.raises(ArithmeticError_):
        evaluate(expression)


def _messages(task: str, *turns: str) -> list[dict[str, str]]:
    msgs = [
        {"role": "system", "content": "You are Analyst. A careful one."},
        {
            "role": "user",
            "content": f"\nCurrent Task: {task}\n\nThis is the expected criteria for your final answer: x",
        },
    ]
    msgs += [{"role": "assistant", "content": t} for t in turns]
    return msgs


def test_echo_answer_names_role_and_task_and_earlier_steps() -> None:
    task = "Sum up cats\nmore lines\n\nResults of the earlier steps:\n--- Researcher (r) ---\nuse calculator: 1+1"
    answer = echo.reply(_messages(task), tools={"calculator": "expression"})
    # A directive inside an earlier step's output is not this agent's task.
    assert answer == "Thought: I now know the final answer\nFinal Answer: Analyst: Sum up cats [built on: Researcher]"


def test_echo_calls_tools_one_directive_per_turn_then_answers() -> None:
    task = "Do it; use calculator: 2+3.\nthen use clock: UTC\nuse missing: x"
    tools = {"calculator": "expression", "clock": "timezone"}
    first = echo.reply(_messages(task), tools=tools)
    assert first.endswith('Action: calculator\nAction Input: {"expression": "2+3"}')
    second = echo.reply(_messages(task, first + "\nObservation: 5"), tools=tools)
    assert second.endswith('Action: clock\nAction Input: {"timezone": "UTC"}')
    final = echo.reply(_messages(task, first + "\nObservation: 5", second + "\nObservation: noon"), tools=tools)
    assert final.endswith("[calculator(2+3) = 5] [clock(UTC) = noon]")
    assert "Final Answer: Analyst: Do it; use calculator: 2+3." in final


def test_run_setup_reads_exactly_the_session_services_answer() -> None:
    sid = "6f1c1f3e-0000-4000-8000-000000000001"
    body = {"session_id": sid, "variables": {"v": 1}, "selected_tool_ids": ["t1"], "tool_configs": {"t1": {"a": 1}}}
    setup = SessionRunSetup.model_validate(body)
    assert (setup.variables, setup.selected_tool_ids, setup.tool_configs) == ({"v": 1}, ["t1"], {"t1": {"a": 1}})
    # Any other shape is not what the session service sends: refused, not guessed at.
    for configs in ([{"tool_id": "t1", "config": {}}], {"t1": "not an object"}, "nonsense"):
        with pytest.raises(ValidationError):
            SessionRunSetup.model_validate({**body, "tool_configs": configs})
    with pytest.raises(ValidationError):
        SessionRunSetup.model_validate({"variables": {}})


def test_echo_repeats_its_context_only_when_asked() -> None:
    prompt = "Write it\n\nResults of the earlier steps:\n--- Reviewer (agt_r) ---\nEDITED   text\nline two"
    messages = [{"role": "user", "content": f"Current Task: {prompt}"}]
    plain = echo.reply(messages, role="Writer")
    assert plain.endswith("Final Answer: Writer: Write it [built on: Reviewer]")
    repeated = echo.reply(messages, role="Writer", repeat_context=True)
    assert repeated.endswith("[built on: Reviewer] [context: --- Reviewer (agt_r) --- EDITED text line two]")
