"""What the services agree on across their boundaries: run and checkpoint states, execution models, the builtin
tool names, and the response models one service reads from another (so a client returns a checked model, never
a loose dict). Only plain data lives here; each service keeps its own tables and logic."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["queued", "running", "paused", "completed", "failed", "cancelled"]
RUN_STATUSES: tuple[RunStatus, ...] = ("queued", "running", "paused", "completed", "failed", "cancelled")
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})

StepStatus = Literal["running", "completed", "failed", "cancelled"]
STEP_STATUSES: tuple[StepStatus, ...] = ("running", "completed", "failed", "cancelled")

CheckpointStatus = Literal["pending", "approved", "edited", "rejected", "cancelled"]
CHECKPOINT_STATUSES: tuple[CheckpointStatus, ...] = ("pending", "approved", "edited", "rejected", "cancelled")

# How a checkpoint is decided, and by whom: a person, or the platform when `hitl.timeout_s` ran out.
CheckpointAction = Literal["approve", "edit", "reject"]
CHECKPOINT_ACTIONS: tuple[CheckpointAction, ...] = ("approve", "edit", "reject")
DecisionReason = Literal["person", "timeout"]
OnTimeout = Literal["approve", "reject"]

ExecutionModel = Literal["sequential", "parallel", "hierarchical"]
EXECUTION_MODELS: tuple[ExecutionModel, ...] = ("sequential", "parallel", "hierarchical")

# Tools every executor runs without a catalogue entry; a definition may name them instead of a tool id, and the
# workflow service seeds one read-only catalogue row for each.
BuiltinToolName = Literal["calculator", "current_time"]
BUILTIN_TOOL_NAMES: tuple[BuiltinToolName, ...] = ("calculator", "current_time")


# The workflow service's migrations announce every committed change of a workflow row on this PostgreSQL channel
# (payload: the workflow id, or `*` for all of them); the executor listens to keep its definitions fresh.
WORKFLOW_CHANGED_CHANNEL = "echoai_workflow_changed"
WORKFLOW_CHANGED_ALL = "*"


class _Upstream(BaseModel):
    # A sibling may add fields without breaking its readers; what a reader relies on is declared and checked.
    model_config = ConfigDict(extra="ignore")


class WorkflowOut(_Upstream):
    """`GET /workflows/{id}` of the workflow service, as the executor reads it."""

    workflow_id: uuid.UUID
    name: str
    status: str
    version: int | None = None
    definition: dict[str, Any]


class ToolOut(_Upstream):
    """`GET /tools/{id}` of the workflow service."""

    tool_id: uuid.UUID
    name: str
    tool_type: str
    definition: dict[str, Any] = Field(default_factory=dict)


class SessionRunSetup(_Upstream):
    """`GET /sessions/{id}/run-setup` of the session service: what a run of the session uses."""

    session_id: uuid.UUID
    variables: dict[str, Any] = Field(default_factory=dict)
    # Catalogue ids or builtin names (`calculator`), as the session stores them.
    selected_tool_ids: list[str] = Field(default_factory=list)
    # tool_id → the session's config for it, merged over the tool's definition.
    tool_configs: dict[str, dict[str, Any]] = Field(default_factory=dict)


class MessageOut(_Upstream):
    """`POST /sessions/{id}/messages` of the session service."""

    message_id: uuid.UUID
    seq: int


class RunOut(_Upstream):
    """`GET /executions/{run_id}` of the executor, as the gateway reads it to authorise a WebSocket."""

    run_id: uuid.UUID
    user_id: uuid.UUID | None = None
    status: RunStatus

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class RunStepOut(_Upstream):
    """One step of `GET /executions/{run_id}/steps` of the executor."""

    step_id: str
    agent_id: str | None = None
    agent_name: str | None = None
    status: str
    output: str | None = None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class RunStepsOut(_Upstream):
    """`GET /executions/{run_id}/steps` of the executor, as the gateway reads it for a late joiner."""

    run_id: uuid.UUID
    status: RunStatus
    last_seq: int = 0
    steps: list[RunStepOut]
