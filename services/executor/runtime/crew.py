"""The compiler: one plan step becomes CrewAI objects (an Agent with its LLM and tools, a Task, a one-task Crew)
and runs. Blocking: the runner calls it in a worker thread.

Each step is its own Crew so that the runner, not CrewAI, decides the order: every finished step is recorded
before the next starts, which is what lets a run be cancelled, paused or resumed between steps.

A step's crew runs on its own event loop in its worker thread (`Crew.akickoff`), and that loop runs in place what
CrewAI hands to a thread (see `_StepLoop`). The blocking `Crew.kickoff` instead starts an event loop per agent and
sends every flow method of CrewAI's agent executor to a new thread and back: measured on a 2-core machine, those
hops were about a quarter of a step's CPU with one step running, and a third with four at once (they wait on the
GIL behind the other steps' threads).

A step's crew keeps no replay log: CrewAI writes every kickoff's task outputs to one SQLite file (for `crewai
replay`), clearing it at each kickoff. The executor records steps in its own tables, so that log is never read;
writing it was about a third of a step's CrewAI time, and the crews of concurrent runs contended for the file.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from concurrent.futures import Executor
from typing import Any, TypeVar, TypeVarTuple

from crewai import LLM, Agent, Crew, Process, Task
from crewai.agents.agent_executor import AgentExecutor, AgentExecutorState
from crewai.flow.runtime import FlowState
from crewai.llms.base_llm import BaseLLM
from crewai.utilities import file_store
from pydantic import PrivateAttr

from services.executor.domain import echo
from services.executor.domain.plan import StepSpec
from services.executor.runtime.tools import Observer, build_tools, input_arguments

DEFAULT_MAX_ITER = 15
DEFAULT_TIMEOUT = 120.0
T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class StepFailure(RuntimeError):
    """A model failed the step on purpose or otherwise; the message is what the run records."""


class EchoLLM(BaseLLM):
    """The built-in offline model: a real CrewAI LLM whose answers come from `domain.echo`."""

    llm_type: str = "echo"
    provider: str = "echo"
    delay_ms: int = 0
    fail_with: str | None = None
    repeat_context: bool = False

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> str:
        if self.delay_ms > 0:
            time.sleep(self.delay_ms / 1000)
        if self.fail_with:
            raise StepFailure(self.fail_with)
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        role = getattr(from_agent, "role", None)
        agent_tools = getattr(from_agent, "tools", None) or []
        return echo.reply(messages, role=role, tools=input_arguments(agent_tools), repeat_context=self.repeat_context)

    async def acall(self, *args: Any, **kwargs: Any) -> str:
        # Nothing to wait for: the reply is computed (a `delay_ms` blocks this step's own thread, as in `call`).
        return self.call(*args, **kwargs)

    def supports_function_calling(self) -> bool:
        return False  # it speaks ReAct text, like a plain completion model

    def get_input_tokens_count(self, messages: Any, tools: Any = None, response_model: Any = None) -> int:
        text = messages if isinstance(messages, str) else " ".join(str(m.get("content", "")) for m in messages)
        return len(text) // 4

    def get_context_window_size(self) -> int:
        return 1_000_000


class _NoReplayLog:
    """Stands in for CrewAI's task-output store: takes the writes, keeps nothing."""

    def update(self, task_index: int, log: dict[str, Any]) -> None:
        pass

    def add(self, *args: Any, **kwargs: Any) -> None:
        pass

    def reset(self) -> None:
        pass

    def load(self) -> list[dict[str, Any]]:
        return []


class StepCrew(Crew):
    """A one-task crew without the replay log (see the module's note)."""

    _task_output_handler: Any = PrivateAttr(default_factory=_NoReplayLog)


class _StepLoop(asyncio.SelectorEventLoop):
    """The event loop of one step, in the step's worker thread. What CrewAI hands to the loop's default executor
    (each flow method of its agent executor, sync tools, its own bookkeeping) runs right here: this thread is the
    one meant to block, and nothing else runs on this loop. An explicit executor is still honoured."""

    def run_in_executor(self, executor: Executor | None, func: Callable[[*Ts], T], *args: *Ts) -> asyncio.Future[T]:
        if executor is not None:
            return super().run_in_executor(executor, func, *args)
        future: asyncio.Future[T] = self.create_future()
        try:
            future.set_result(func(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future


def _without_store(coro: Coroutine[Any, Any, T]) -> T:
    """CrewAI's file store with no backend: each of its calls returns before awaiting anything, yet CrewAI starts
    an event loop for each (in a new thread, when a loop already runs) to find that out. Here it just runs."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("CrewAI's file store awaited without a backend")


class _ExecutorState(FlowState, AgentExecutorState):
    """The state class of CrewAI's agent executor, made once (see `prepare`)."""


def prepare() -> None:
    """Once per process, before the first step. CrewAI's agent executor declares its state as a plain model, and
    CrewAI then derives a new class from it (`FlowState` + that model: a pydantic class, schema and all) for every
    agent it sets up, about a quarter of a step's CrewAI time. Handing it the same derived class, made once, skips
    that; its instances are the same. Only applied to the shape this was checked against: if CrewAI declares the
    state differently, it is left alone. Likewise its file store, when it has no backend (see `_without_store`)."""
    if getattr(AgentExecutor, "_initial_state_t", None) is AgentExecutorState:
        AgentExecutor._initial_state_t = _ExecutorState  # type: ignore[attr-defined]
    if getattr(file_store, "_file_store", True) is None and callable(getattr(file_store, "_run_sync", None)):
        file_store._run_sync = _without_store


def build_llm(spec: Mapping[str, Any]) -> BaseLLM:
    """`echo` is built in; every other provider goes through CrewAI's own LLM. Keys come from the environment:
    `api_key_env` names the variable (default `<PROVIDER>_API_KEY`)."""
    provider = str(spec.get("provider") or "echo")
    model = str(spec.get("model") or "")
    if provider == "echo":
        return EchoLLM(
            model=model or "echo-1",
            delay_ms=int(spec.get("delay_ms") or 0),
            fail_with=spec.get("fail_with"),
            repeat_context=bool(spec.get("repeat_context")),
        )
    if not model:
        raise StepFailure(f"The llm of provider '{provider}' needs a `model`.")
    key = os.environ.get(str(spec.get("api_key_env") or f"{provider.upper()}_API_KEY"))
    kwargs: dict[str, Any] = {"model": model, "provider": provider}
    if spec.get("base_url"):
        kwargs["base_url"] = str(spec["base_url"])
        key = key or "unused"  # local OpenAI-compatible servers usually take no key, but the client wants one
    if key:
        kwargs["api_key"] = key
    for name in ("temperature", "max_tokens"):
        if spec.get(name) is not None:
            kwargs[name] = spec[name]
    if provider == "openai":
        kwargs["timeout"] = float(spec.get("timeout") or DEFAULT_TIMEOUT)
    try:
        return LLM(**kwargs)
    except Exception as exc:
        raise StepFailure(f"The llm '{provider}/{model}' cannot be used: {exc}") from exc


def run_step(step: StepSpec, prompt: str, tool_specs: Iterable[Mapping[str, Any]], observer: Observer | None) -> str:
    """Run one agent on one task with CrewAI; returns the final answer. Raises on failure."""
    llm = build_llm(step.llm)
    agent = Agent(
        role=step.role,
        goal=step.goal,
        backstory=step.backstory or step.role,
        llm=llm,
        tools=build_tools(tool_specs, observer),
        allow_delegation=False,
        verbose=False,
        max_iter=int(step.options.get("max_iter", DEFAULT_MAX_ITER)),
        # A failed step fails the run; retrying is the broker's job for crashes and the user's for errors.
        max_retry_limit=int(step.options.get("max_retry_limit", 0)),
    )
    task = Task(description=prompt, expected_output=step.expected_output, agent=agent)
    crew = StepCrew(agents=[agent], tasks=[task], process=Process.sequential, verbose=False)
    with asyncio.Runner(loop_factory=_StepLoop) as runner:
        result = runner.run(crew.akickoff())  # not streaming: a CrewOutput
    return str(getattr(result, "raw", result))
