"""Per-run step state and replay buffer, derived from the step events this gateway has seen.

Pure and synchronous (no I/O, injected clock) so the consumer callback can update it without awaiting, and so
it can be tested without a broker. Memory is bounded three ways: events per run, runs tracked, bytes overall.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.messaging.messages import TERMINAL_EVENTS, StepEventV1

Clock = Callable[[], float]

RUN_STATUS_BY_EVENT = {
    "run_started": "running",
    "run_paused": "paused",
    "run_resumed": "running",
    "run_completed": "completed",
    "run_failed": "failed",
    "run_cancelled": "cancelled",
}


def iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class BufferedEvent:
    """One event as clients receive it, serialised once however many clients it goes to."""

    seq: int
    text: str
    terminal: bool

    @classmethod
    def of(cls, event: StepEventV1) -> BufferedEvent:
        text = json.dumps(event.public(), separators=(",", ":"), ensure_ascii=False)
        return cls(event.seq, text, event.type in TERMINAL_EVENTS)

    @property
    def size(self) -> int:
        return len(self.text) + 64  # rough per-object overhead, enough for a memory cap


@dataclass(slots=True)
class StepState:
    step_id: str
    agent_id: str | None = None
    agent_name: str | None = None
    status: str = "running"
    output: str | None = None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    def public(self) -> dict[str, Any]:
        return {
            "step_id": self.step_id,
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "started_at": iso(self.started_at),
            "completed_at": iso(self.completed_at),
        }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass(slots=True)
class RunState:
    run_id: uuid.UUID
    user_id: uuid.UUID
    max_events: int
    status: str = "running"
    last_seq: int = 0
    ended_at: float | None = None  # clock time of the terminal event
    touched_at: float = 0.0
    steps: dict[str, StepState] = field(default_factory=dict)
    buffer: deque[BufferedEvent] = field(default_factory=deque)
    bytes: int = 0

    @property
    def terminal(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    def apply(self, event: StepEventV1, now: float) -> BufferedEvent | None:
        """Fold one event in; None for a duplicate or stale one (seq already seen)."""
        if event.seq <= self.last_seq:
            return None
        buffered = BufferedEvent.of(event)
        self.last_seq = event.seq
        self.touched_at = now
        self.buffer.append(buffered)
        self.bytes += buffered.size
        while len(self.buffer) > self.max_events:
            self.bytes -= self.buffer.popleft().size
        self._derive(event)
        if self.terminal and self.ended_at is None:
            self.ended_at = now
        return buffered

    def trim_oldest(self) -> int:
        """Drop the oldest buffered event; returns the bytes freed (0 when empty)."""
        if not self.buffer:
            return 0
        size = self.buffer.popleft().size
        self.bytes -= size
        return size

    def events_after(self, seq: int) -> list[BufferedEvent]:
        if seq >= self.last_seq:
            return []
        # The buffer holds consecutive seqs in the usual case; scan from the right for the start.
        events = list(self.buffer)
        start = len(events)
        while start > 0 and events[start - 1].seq > seq:
            start -= 1
        return events[start:]

    def _derive(self, event: StepEventV1) -> None:
        if event.type in RUN_STATUS_BY_EVENT:
            # A terminal status is final: a late run_resumed must not reopen a finished run.
            if not self.terminal:
                self.status = RUN_STATUS_BY_EVENT[event.type]
            edited = self.steps.get(str(event.data.get("step_id"))) if event.data.get("reason") == "edited" else None
            if event.type == "run_resumed" and edited is not None and "output" in event.data:
                edited.output = _text(event.data["output"])
            if event.type in ("run_failed", "run_cancelled"):
                ended = "cancelled" if event.type == "run_cancelled" else "failed"
                for step in self.steps.values():
                    if step.status == "running":
                        step.status, step.completed_at = ended, event.ts
            return
        if event.step_id is None:
            return
        if event.step_id not in self.steps:
            self.steps[event.step_id] = StepState(event.step_id)
        step = self.steps[event.step_id]
        step.agent_id = event.agent_id or step.agent_id
        step.agent_name = event.agent_name or step.agent_name
        data = event.data
        if event.type == "step_started":
            step.status, step.started_at, step.completed_at, step.error = "running", event.ts, None, None
        elif event.type == "step_output":
            # A tool call's result is not the step's output. Otherwise either the full output so far
            # ("output"/"text") or an increment ("delta"/"chunk").
            if data.get("kind") == "tool":
                pass
            elif "output" in data or "text" in data:
                step.output = _text(data.get("output", data.get("text")))
            elif "delta" in data or "chunk" in data:
                step.output = (step.output or "") + (_text(data.get("delta", data.get("chunk"))) or "")
        elif event.type == "step_completed":
            step.status, step.completed_at = "completed", event.ts
            if "output" in data:
                step.output = _text(data["output"])
        elif event.type == "step_failed":
            step.status, step.completed_at = "failed", event.ts
            step.error = _text(data.get("error")) or step.error
        if step.started_at is None:
            step.started_at = event.ts

    def snapshot(self) -> dict[str, Any]:
        return {
            "run_id": str(self.run_id),
            "status": self.status,
            "last_seq": self.last_seq,
            "steps": [s.public() for s in self.steps.values()],
        }


class RunRegistry:
    """Every run this gateway tracks. A finished run stays `ttl` seconds; an idle unfinished one `idle_ttl`."""

    def __init__(
        self,
        *,
        ttl: float,
        max_events_per_run: int = 10_000,
        max_runs: int = 5_000,
        max_bytes: int = 128 * 1024 * 1024,
        idle_ttl: float = 6 * 3600,
        clock: Clock = time.monotonic,
    ):
        self.ttl = ttl
        self.max_events_per_run = max_events_per_run
        self.max_runs = max_runs
        self.max_bytes = max_bytes
        self.idle_ttl = idle_ttl
        self.clock = clock
        self._runs: OrderedDict[uuid.UUID, RunState] = OrderedDict()  # least recently active first
        self._finished: OrderedDict[uuid.UUID, None] = OrderedDict()  # oldest finished first
        self.bytes = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._runs)

    def apply(self, event: StepEventV1) -> tuple[RunState, BufferedEvent | None]:
        now = self.clock()
        state = self._runs.get(event.run_id)
        if state is None:
            state = RunState(event.run_id, event.user_id, self.max_events_per_run, touched_at=now)
            self._runs[event.run_id] = state
        else:
            self._runs.move_to_end(event.run_id)
        was_terminal = state.terminal
        before = state.bytes
        buffered = state.apply(event, now)
        self.bytes += state.bytes - before
        if state.terminal and not was_terminal:
            self._finished[event.run_id] = None
        self._enforce_caps(keep=state)
        return state, buffered

    def get(self, run_id: uuid.UUID) -> RunState | None:
        state = self._runs.get(run_id)
        if state is not None and self._expired(state, self.clock()):
            self._drop(run_id)
            return None
        return state

    def sweep(self) -> int:
        """Forget expired runs; returns how many went."""
        now = self.clock()
        gone = [run_id for run_id, state in self._runs.items() if self._expired(state, now)]
        for run_id in gone:
            self._drop(run_id)
        return len(gone)

    def _expired(self, state: RunState, now: float) -> bool:
        if state.ended_at is not None:
            return now - state.ended_at >= self.ttl
        return now - state.touched_at >= self.idle_ttl

    def _drop(self, run_id: uuid.UUID) -> None:
        state = self._runs.pop(run_id, None)
        if state is not None:
            self.bytes -= state.bytes
        self._finished.pop(run_id, None)

    def _evict_one(self, keep: RunState) -> bool:
        """Finished runs go first (oldest first), then the least recently active unfinished run."""
        victim = next((r for r in self._finished if r != keep.run_id), None)
        if victim is None:
            victim = next((r for r in self._runs if r != keep.run_id), None)
        if victim is None:
            return False
        self._drop(victim)
        self.evicted += 1
        return True

    def _enforce_caps(self, keep: RunState) -> None:
        while len(self._runs) > self.max_runs and self._evict_one(keep):
            pass
        while self.bytes > self.max_bytes:
            if not self._evict_one(keep):
                # Only the run being written is left: shorten its own buffer.
                freed = keep.trim_oldest()
                if not freed:
                    break
                self.bytes -= freed
