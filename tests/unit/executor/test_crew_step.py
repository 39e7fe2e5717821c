"""A step's CrewAI work stays in the step's own thread: the crew runs on the step's event loop, and what CrewAI
hands to that loop's default executor (its flow methods, sync tools) runs in place instead of hopping to a new
thread and back. Real CrewAI, the built-in echo model."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from services.executor.domain.plan import StepSpec
from services.executor.runtime import crew  # the package sets CrewAI's switches before CrewAI is imported

file_store = crew.file_store

CALCULATOR = {"tool_id": "calculator", "name": "calculator", "tool_type": "builtin", "definition": {}}


def _step(task: str) -> StepSpec:
    return StepSpec(
        step_id="s",
        agent_id="s",
        name="Accountant",
        role="Accountant",
        goal="Add up",
        backstory="",
        description=task,
        expected_output="a number",
        llm={"provider": "echo"},
        tool_ids=("calculator",),
    )


def test_tools_run_in_the_thread_that_runs_the_step() -> None:
    crew.prepare()
    calls: list[tuple[str, int]] = []

    def observe(tool: str, args: dict[str, Any], result: str) -> None:
        calls.append((result, threading.get_ident()))

    def in_worker() -> tuple[str, int]:
        task = "Add up; use calculator: 17*23"
        answer = crew.run_step(_step(task), task, [CALCULATOR], observe)
        return answer, threading.get_ident()

    with ThreadPoolExecutor(max_workers=1) as pool:  # as the runner calls it: in a worker thread
        answer, worker = pool.submit(in_worker).result()
    assert "391" in answer
    assert calls == [("391", worker)]


def test_the_step_loop_runs_default_executor_work_in_place_and_keeps_explicit_executors() -> None:
    loop = crew._StepLoop()
    try:
        here = threading.get_ident()
        assert loop.run_until_complete(loop.run_in_executor(None, threading.get_ident)) == here
        with pytest.raises(ZeroDivisionError):
            loop.run_until_complete(loop.run_in_executor(None, lambda: 1 / 0))
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert loop.run_until_complete(loop.run_in_executor(pool, threading.get_ident)) != here
    finally:
        loop.close()


def test_the_backendless_file_store_answers_without_an_event_loop() -> None:
    crew.prepare()
    assert file_store._file_store is None  # no aiocache here: the shape `prepare` checks for
    assert file_store._run_sync is crew._without_store
    started: list[str] = []
    real_start = threading.Thread.start

    def start(thread: threading.Thread) -> None:
        started.append(thread.name)
        real_start(thread)

    async def inside_a_running_loop() -> dict[str, Any] | None:
        # Where CrewAI's own helper would start a thread with a loop of its own for each call.
        threading.Thread.start = start  # type: ignore[method-assign]
        try:
            file_store.clear_files(uuid.uuid4())
            return file_store.get_all_files(uuid.uuid4())
        finally:
            threading.Thread.start = real_start  # type: ignore[method-assign]

    assert asyncio.run(inside_a_running_loop()) is None
    assert started == []
