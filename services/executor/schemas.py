from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["queued", "running", "paused", "completed", "failed", "cancelled"]
MAX_MESSAGE = 100_000


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow_id: uuid.UUID
    message: str = Field(default="", max_length=MAX_MESSAGE)
    session_id: uuid.UUID | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)


class SendOut(BaseModel):
    run_id: uuid.UUID
    status: Literal["executing"] = "executing"
    workflow_id: uuid.UUID
    session_id: uuid.UUID | None


class ExecutionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    run_id: uuid.UUID
    workflow_id: uuid.UUID
    session_id: uuid.UUID | None
    status: RunStatus
    output: str | None
    error: str | None
    attempt: int
    last_seq: int
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step_id: str
    agent_id: str
    agent_name: str
    status: str
    output: str | None
    error: str | None
    attempt: int
    started_at: datetime | None
    completed_at: datetime | None


class StepsOut(BaseModel):
    run_id: uuid.UUID
    status: RunStatus
    last_seq: int
    steps: list[StepOut]


class CheckpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    checkpoint_id: uuid.UUID
    step_id: str
    agent_id: str
    status: str
    output: str | None
    created_at: datetime
    decided_at: datetime | None


class CheckpointsOut(BaseModel):
    items: list[CheckpointOut]
