"""What the API answers, as typed models. Extra fields are kept (the API may add some); IDs stay strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

RunStatus = Literal["queued", "running", "paused", "completed", "failed", "cancelled"]
TERMINAL_RUN_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
TERMINAL_EVENTS: frozenset[str] = frozenset({"run_completed", "run_failed", "run_cancelled"})


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Page(Model, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next (None: this was the last)."""

    items: list[T]
    next_cursor: str | None = None


class User(Model):
    user_id: str
    email: str
    display_name: str | None = None


class Token(Model):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class WorkflowSummary(Model):
    workflow_id: str
    name: str
    status: str
    version: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Workflow(WorkflowSummary):
    definition: dict[str, Any] = Field(default_factory=dict)

    @property
    def agents(self) -> list[dict[str, Any]]:
        agents = self.definition.get("agents")
        return [a for a in agents if isinstance(a, dict)] if isinstance(agents, list) else []


class VersionSummary(Model):
    workflow_id: str
    version: int
    name: str
    created_at: datetime | None = None


class Version(VersionSummary):
    definition: dict[str, Any] = Field(default_factory=dict)


class Agent(Model):
    agent_id: str
    name: str
    source_workflow_id: str | None = None
    definition: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Tool(Model):
    tool_id: str
    name: str
    tool_type: str
    tags: list[str] = Field(default_factory=list)
    definition: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Message(Model):
    message_id: str
    seq: int
    role: str
    content: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    run_id: str | None = None
    created_at: datetime | None = None


class SessionSummary(Model):
    session_id: str
    title: str
    context_type: str = "general"
    context_id: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    selected_tool_ids: list[str] = Field(default_factory=list)
    run_ids: list[str] = Field(default_factory=list)
    message_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Session(SessionSummary):
    messages: list[Message] = Field(default_factory=list)


class SendResult(Model):
    run_id: str
    status: str
    workflow_id: str
    session_id: str | None = None


class Run(Model):
    run_id: str
    workflow_id: str
    session_id: str | None = None
    status: RunStatus
    output: str | None = None
    error: str | None = None
    attempt: int = 0
    last_seq: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES


class Step(Model):
    step_id: str
    agent_id: str | None = None
    agent_name: str | None = None
    status: str | None = None
    output: str | None = None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class RunSteps(Model):
    run_id: str
    status: str | None = None
    last_seq: int = 0
    steps: list[Step] = Field(default_factory=list)


class Checkpoint(Model):
    checkpoint_id: str
    run_id: str | None = None
    workflow_id: str | None = None
    workflow_name: str | None = None
    step_id: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    status: str
    output: str | None = None
    comment: str | None = None
    reason: str | None = None
    decided_by: str | None = None
    created_at: datetime | None = None
    decided_at: datetime | None = None
    expires_at: datetime | None = None


EventType = Literal[
    "run_started",
    "step_started",
    "step_output",
    "step_completed",
    "step_failed",
    "run_paused",
    "run_resumed",
    "run_completed",
    "run_failed",
    "run_cancelled",
]


class Event(Model):
    """One event of a run's live stream; `seq` is 1, 2, … per run."""

    type: str
    run_id: str
    seq: int
    ts: datetime | None = None
    step_id: str | None = None
    agent_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS
