"""Tools really run inside a CrewAI step (the echo model calls them ReAct style), and a non-echo provider goes
through CrewAI's own LLM to a real OpenAI-protocol server on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.executor.conftest import Executor, agent
from tests.integration.executor.http_stub import Seen, http_stub

pytestmark = pytest.mark.integration


def _with_tools(a: dict, *tools: str) -> dict:  # type: ignore[type-arg]
    return {**a, "tools": list(tools)}


async def test_calculator_runs_and_its_result_reaches_the_answer(executor: Executor) -> None:
    definition = {"agents": [_with_tools(agent("c", "Accountant", "Add up; use calculator: 17*23"), "calculator")]}
    request = await executor.submit(definition)
    events = await executor.tap.until_terminal(request.run_id)
    tool_events = [e for e in events if e.type == "step_output" and e.data.get("kind") == "tool"]
    assert [(e.data["tool"], e.data["input"], e.data["output"]) for e in tool_events] == [
        ("calculator", {"expression": "17*23"}, "391")
    ]
    assert tool_events[0].step_id == "c"
    run = await executor.finished(request.run_id)
    # 391 is nowhere in the prompt: only the tool could have produced it.
    assert run["status"] == "completed" and "[calculator(17*23) = 391]" in run["output"]


async def test_calculator_refuses_code(executor: Executor) -> None:
    task = "Try; use calculator: __import__('os').getcwd()"
    request = await executor.submit({"agents": [_with_tools(agent("c", "Tester", task), "calculator")]})
    run = await executor.finished(request.run_id)
    assert run["status"] == "completed"
    assert "Error: only numbers" in run["output"]


async def test_current_time(executor: Executor) -> None:
    task = "Tell the time; use current_time: UTC"
    request = await executor.submit({"agents": [_with_tools(agent("t", "Clock", task), "current_time")]})
    events = await executor.tap.until_terminal(request.run_id)
    observed = next(e.data["output"] for e in events if e.data.get("kind") == "tool")
    assert abs(datetime.fromisoformat(observed) - datetime.now(UTC)) < timedelta(minutes=5)


async def test_api_tool_calls_its_endpoint_with_session_config_applied(executor: Executor) -> None:
    def answer(seen: Seen) -> tuple[int, str]:
        return 200, f"Sunny in {seen.query['city'][0]}, 21C"

    with http_stub(answer) as stub:
        weather = {
            "tool_id": "7d4f6d8e-1111-4a4a-9b9b-000000000001",
            "name": "weather",
            "tool_type": "api",
            # As `chat/send` leaves it: the session's config merged over the catalogue definition.
            "definition": {
                "url": stub.url + "/weather",
                "method": "GET",
                "query_param": "city",
                "headers": {"x-key": "s3"},
            },
        }
        definition = {"agents": [agent("w", "Forecaster", "Forecast; use weather: Paris")]}
        # A session-selected tool reaches every agent, also one without tools of its own.
        request = await executor.submit(
            definition, tools={weather["tool_id"]: weather}, session_tool_ids=[weather["tool_id"]]
        )
        run = await executor.finished(request.run_id)
    assert run["status"] == "completed"
    assert "[weather(Paris) = Sunny in Paris, 21C]" in run["output"]
    assert [(s.method, s.path, s.query, s.headers["x-key"]) for s in stub.seen] == [
        ("GET", "/weather", {"city": ["Paris"]}, "s3")
    ]


async def test_api_tool_post_and_http_error(executor: Executor) -> None:
    with http_stub(lambda seen: (503, "overloaded")) as stub:
        tool = {
            "tool_id": "t-post",
            "name": "notify",
            "tool_type": "api",
            "definition": {"url": stub.url, "method": "POST", "body": {"channel": "ops"}},
        }
        definition = {"agents": [_with_tools(agent("n", "Notifier", "Tell; use notify: deploy done"), "t-post")]}
        request = await executor.submit(definition, tools={"t-post": tool})
        run = await executor.finished(request.run_id)
    assert stub.seen[0].body == {"channel": "ops", "input": "deploy done"}
    assert run["status"] == "completed" and "Error: HTTP 503: overloaded" in run["output"]


async def test_openai_protocol_provider_goes_through_crewai_llm(executor: Executor) -> None:
    def answer(seen: Seen) -> tuple[int, dict]:  # type: ignore[type-arg]
        system = seen.body["messages"][0]["content"]
        return 200, {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": seen.body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": f"Thought: done\nFinal Answer: local model, {system[:14]}",
                    },
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    with http_stub(answer) as stub:
        llm = {"provider": "openai", "model": "local-model", "base_url": stub.url + "/v1"}
        definition = {"agents": [{**agent("o", "Poet", "Write about {message}"), "llm": llm}]}
        request = await executor.submit(definition, message="the sea")
        run = await executor.finished(request.run_id)
    assert run["status"] == "completed", run
    assert run["output"] == "local model, You are Poet."
    assert [s.path for s in stub.seen] == ["/v1/chat/completions"]
    body = stub.seen[0].body
    assert body["model"] == "local-model"
    assert "Write about the sea" in body["messages"][-1]["content"]
    assert stub.seen[0].headers["authorization"] == "Bearer unused"


async def test_consecutive_steps_of_a_provider_each_get_their_answer(executor: Executor) -> None:
    # Each step runs on an event loop of its own, in whichever pool thread takes it: a provider's async client made
    # for one step must not be what the next step's loop is handed.
    def answer(seen: Seen) -> tuple[int, dict]:  # type: ignore[type-arg]
        said = seen.body["messages"][-1]["content"]
        return 200, {
            "id": f"chatcmpl-{len(said)}",
            "object": "chat.completion",
            "created": 0,
            "model": seen.body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"Thought: done\nFinal Answer: heard {len(said)}"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    with http_stub(answer) as stub:
        llm = {"provider": "openai", "model": "local-model", "base_url": stub.url + "/v1"}
        agents = [{**agent(key, key.title(), f"Step {key}"), "llm": llm} for key in ("first", "second", "third")]
        request = await executor.submit({"agents": agents})
        run = await executor.finished(request.run_id)
        steps = await executor.steps(request.run_id)
    assert run["status"] == "completed", run
    assert [s.path for s in stub.seen] == ["/v1/chat/completions"] * 3
    assert [s["status"] for s in steps] == ["completed"] * 3
    assert all(s["output"].startswith("heard ") for s in steps)
