"""The per-run state and replay buffer: derivation, dedupe, TTL, and every memory bound."""

from __future__ import annotations

import json
import uuid

from services.gateway.fanout.state import RunRegistry
from tests.unit.gateway.events import FakeClock, event

USER = uuid.uuid4()


def registry(clock: FakeClock, **kw: int) -> RunRegistry:
    return RunRegistry(ttl=60, clock=clock, **kw)


def test_step_state_is_derived_from_events() -> None:
    reg, run = registry(FakeClock()), uuid.uuid4()
    for ev in [
        event(run, USER, 1, "run_started"),
        event(run, USER, 2, "step_started", "a"),
        event(run, USER, 3, "step_output", "a", delta="Hel"),
        event(run, USER, 4, "step_output", "a", delta="lo"),
        event(run, USER, 5, "step_output", "a", kind="tool", tool="search", output="tool result"),
        event(run, USER, 6, "step_output", "a", kind="answer", output="Hello"),
        event(run, USER, 7, "step_completed", "a", output="Hello"),
        event(run, USER, 8, "step_started", "b"),
        event(run, USER, 9, "step_failed", "b", error="boom"),
    ]:
        reg.apply(ev)
    state = reg.get(run)
    assert state is not None
    snap = state.snapshot()
    assert snap["status"] == "running"
    assert snap["last_seq"] == 9
    a, b = snap["steps"]
    assert a == {
        "step_id": "a",
        "agent_id": "agent-a",
        "agent_name": "Agent a",
        "status": "completed",
        "output": "Hello",
        "error": None,
        "started_at": "2026-11-26T12:00:02Z",
        "completed_at": "2026-11-26T12:00:07Z",
    }
    assert (b["status"], b["error"], b["output"]) == ("failed", "boom", None)


def test_run_status_follows_pause_resume_and_terminal_events() -> None:
    reg, run = registry(FakeClock()), uuid.uuid4()
    statuses = []
    for seq, kind in enumerate(["run_started", "run_paused", "run_resumed", "run_cancelled", "run_resumed"], 1):
        state, _ = reg.apply(event(run, USER, seq, kind))
        statuses.append(state.status)
    # A late event never reopens a finished run.
    assert statuses == ["running", "paused", "running", "cancelled", "cancelled"]


def test_cancel_and_failure_close_running_steps() -> None:
    reg, run = registry(FakeClock()), uuid.uuid4()
    reg.apply(event(run, USER, 1, "step_started", "a"))
    state, _ = reg.apply(event(run, USER, 2, "run_cancelled"))
    assert state.snapshot()["steps"][0]["status"] == "cancelled"
    other = uuid.uuid4()
    reg.apply(event(other, USER, 1, "step_started", "a"))
    state, _ = reg.apply(event(other, USER, 2, "run_failed", error="x"))
    assert (state.status, state.snapshot()["steps"][0]["status"]) == ("failed", "failed")


def test_duplicates_and_stale_seqs_are_ignored() -> None:
    reg, run = registry(FakeClock()), uuid.uuid4()
    assert reg.apply(event(run, USER, 1))[1] is not None
    assert reg.apply(event(run, USER, 2))[1] is not None
    assert reg.apply(event(run, USER, 2))[1] is None
    assert reg.apply(event(run, USER, 1))[1] is None
    state = reg.get(run)
    assert state is not None
    assert [e.seq for e in state.events_after(0)] == [1, 2]


def test_buffered_text_is_exactly_the_public_shape() -> None:
    reg, run = registry(FakeClock()), uuid.uuid4()
    ev = event(run, USER, 1, "step_output", "a", output="hi")
    _, buffered = reg.apply(ev)
    assert buffered is not None
    assert json.loads(buffered.text) == ev.public()
    assert "user_id" not in json.loads(buffered.text)
    _, terminal = reg.apply(event(run, USER, 2, "run_completed", output="done"))
    assert terminal is not None and terminal.terminal and not buffered.terminal


def test_events_after_replays_only_later_seqs() -> None:
    reg, run = registry(FakeClock()), uuid.uuid4()
    for seq in range(1, 11):
        reg.apply(event(run, USER, seq))
    state = reg.get(run)
    assert state is not None
    assert [e.seq for e in state.events_after(7)] == [8, 9, 10]
    assert state.events_after(10) == []
    assert state.events_after(99) == []


def test_per_run_buffer_is_bounded() -> None:
    reg, run = registry(FakeClock(), max_events_per_run=5), uuid.uuid4()
    for seq in range(1, 21):
        reg.apply(event(run, USER, seq))
    state = reg.get(run)
    assert state is not None
    assert [e.seq for e in state.events_after(0)] == [16, 17, 18, 19, 20]
    assert state.last_seq == 20
    assert reg.bytes == state.bytes == sum(e.size for e in state.buffer)


def test_finished_run_expires_after_ttl() -> None:
    clock = FakeClock()
    reg, run = registry(clock), uuid.uuid4()
    reg.apply(event(run, USER, 1, "run_started"))
    clock.now += 3600  # running runs are kept however long they take (up to the idle limit)
    reg.apply(event(run, USER, 2, "run_completed"))
    clock.now += 59.9
    assert reg.get(run) is not None
    clock.now += 0.2
    assert reg.get(run) is None
    assert len(reg) == 0 and reg.bytes == 0


def test_sweep_forgets_expired_and_idle_runs() -> None:
    clock = FakeClock()
    reg = RunRegistry(ttl=10, idle_ttl=100, clock=clock)
    done, idle, busy = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    reg.apply(event(done, USER, 1, "run_completed"))
    reg.apply(event(idle, USER, 1, "run_started"))
    clock.now += 50
    reg.apply(event(busy, USER, 1, "run_started"))
    assert reg.sweep() == 1  # `done`
    clock.now += 60
    assert reg.sweep() == 1  # `idle`, silent for 110 s
    assert reg.get(busy) is not None


def test_number_of_runs_is_bounded_finished_runs_go_first() -> None:
    clock = FakeClock()
    reg = registry(clock, max_runs=3)
    running, finished = uuid.uuid4(), uuid.uuid4()
    reg.apply(event(running, USER, 1, "run_started"))
    reg.apply(event(finished, USER, 1, "run_completed"))
    newer = [uuid.uuid4() for _ in range(2)]
    for run in newer:
        reg.apply(event(run, USER, 1, "run_started"))
    assert len(reg) == 3
    assert reg.get(finished) is None
    assert reg.get(running) is not None
    reg.apply(event(uuid.uuid4(), USER, 1, "run_started"))
    assert reg.get(running) is None  # then the least recently active
    assert reg.evicted == 2


def test_total_bytes_are_bounded() -> None:
    reg = registry(FakeClock(), max_bytes=20_000)
    runs = [uuid.uuid4() for _ in range(10)]
    for run in runs:
        for seq in range(1, 11):
            reg.apply(event(run, USER, seq, blob="x" * 300))
    assert reg.bytes <= 20_000
    assert reg.get(runs[-1]) is not None
    assert reg.get(runs[0]) is None
    # A single run bigger than the cap keeps its newest events.
    big = uuid.uuid4()
    for seq in range(1, 201):
        reg.apply(event(big, USER, seq, blob="y" * 300))
    state = reg.get(big)
    assert state is not None and reg.bytes <= 20_000
    assert state.buffer[-1].seq == 200
    assert len(reg) == 1


def test_a_tool_result_is_not_the_step_output() -> None:
    reg, run = registry(FakeClock()), uuid.uuid4()
    reg.apply(event(run, USER, 1, "step_started", "a"))
    reg.apply(event(run, USER, 2, "step_output", "a", kind="answer", output="draft"))
    state, _ = reg.apply(event(run, USER, 3, "step_output", "a", kind="tool", tool="search", output="tool result"))
    assert state.snapshot()["steps"][0]["output"] == "draft"
