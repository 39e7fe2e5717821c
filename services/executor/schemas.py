from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts import CheckpointAction, CheckpointStatus, RunStatus, StepStatus

MAX_MESSAGE = 100_000
MAX_COMMENT = 10_000


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
    workflow_name: str | None
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
    status: StepStatus
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
    """A checkpoint with its audit trail: who decided (empty when the platform did), when, why and with what."""

    model_config = ConfigDict(from_attributes=True)

    checkpoint_id: uuid.UUID
    run_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_name: str | None
    step_id: str
    agent_id: str
    agent_name: str
    status: CheckpointStatus
    output: str | None = Field(description="The step's output under review, as the model produced it.")
    edited_output: str | None = Field(description="What the person replaced it with (action `edit`).")
    comment: str | None
    decided_by: uuid.UUID | None
    reason: Literal["person", "timeout"] | None
    on_timeout: Literal["approve", "reject"]
    created_at: datetime
    expires_at: datetime | None
    decided_at: datetime | None


class CheckpointsOut(BaseModel):
    items: list[CheckpointOut]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: CheckpointAction
    output: str | None = Field(default=None, max_length=MAX_MESSAGE, description="Required for `edit`.")
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)

    @model_validator(mode="after")
    def _edit_has_output(self) -> DecisionIn:
        if self.action == "edit" and not (self.output or "").strip():
            raise ValueError("`edit` needs a non-empty `output`: the text later steps will see instead.")
        if "\x00" in (self.output or "") + (self.comment or ""):
            raise ValueError("`output` and `comment` must not contain the NUL character (U+0000).")
        return self
