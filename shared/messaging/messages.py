"""Every message body that crosses the broker, versioned. A consumer rejects what it cannot read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class ResumeV1(BaseModel):
    """Why a paused run continues: the checkpoint that was decided, and how (the `run_resumed` event says it)."""

    checkpoint_id: uuid.UUID
    reason: Literal["approved", "edited"]
    decided_by: Literal["person", "timeout"] = "person"


class RunRequestV1(_Message):
    """Start (or continue) one run. Carries the definition snapshot the run will use. A paused run that was
    decided is published again with `resume` set: any executor takes it and goes on after the recorded steps."""

    kind: Literal["run.request"] = "run.request"
    version: Literal[1] = 1
    run_id: uuid.UUID
    workflow_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID | None = None
    message: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    definition: dict[str, Any]
    requested_at: datetime
    # Snapshot of every tool the run may use, by tool_id: `{tool_id, name, tool_type, definition}` with the
    # session's per-tool config already merged into `definition`.
    tools: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Tools selected on the session: every agent of the run gets them, besides its own `tools`.
    session_tool_ids: list[str] = Field(default_factory=list)
    # The workflow's name when the run was sent (shown in the approvals inbox).
    workflow_name: str | None = None
    resume: ResumeV1 | None = None


class RunQueuedV1(_Message):
    """A run `chat/send` recorded: its request (what `RunRequestV1` would carry) is the execution row's `request`.

    Published while the send still reads the workflow, so the broker's confirm and that read overlap; the send's
    lock keeps the consumer from reading the row before the send has ended. A consumer that then finds no row
    drops the message: the send failed and answered so."""

    kind: Literal["run.queued"] = "run.queued"
    version: Literal[1] = 1
    run_id: uuid.UUID
    user_id: uuid.UUID
    requested_at: datetime


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
TERMINAL_EVENTS: frozenset[str] = frozenset({"run_completed", "run_failed", "run_cancelled"})


class StepEventV1(_Message):
    """One live step event; ephemeral, published non-persistent."""

    kind: Literal["step.event"] = "step.event"
    version: Literal[1] = 1
    type: EventType
    run_id: uuid.UUID
    user_id: uuid.UUID
    seq: int
    ts: datetime
    step_id: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """The shape clients see on the WebSocket."""
        body: dict[str, Any] = {
            "type": self.type,
            "run_id": str(self.run_id),
            "seq": self.seq,
            "ts": self.ts.isoformat().replace("+00:00", "Z"),
            "data": self.data,
        }
        if self.step_id is not None:
            body["step_id"] = self.step_id
        if self.agent_id is not None:
            body["agent_id"] = self.agent_id
        return body


class RunFinishedV1(_Message):
    """A run reached a terminal state; durable, so the session service never misses the final answer."""

    kind: Literal["run.finished"] = "run.finished"
    version: Literal[1] = 1
    run_id: uuid.UUID
    workflow_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID | None = None
    status: Literal["completed", "failed", "cancelled"]
    output: str | None = None
    error: str | None = None
    finished_at: datetime


class RunControlV1(_Message):
    """Tell every executor about a run: cancel it, or a checkpoint was decided."""

    kind: Literal["run.control"] = "run.control"
    version: Literal[1] = 1
    run_id: uuid.UUID
    action: Literal["cancel", "resume"]


AnyMessage = Annotated[
    RunRequestV1 | RunQueuedV1 | StepEventV1 | RunFinishedV1 | RunControlV1, Field(discriminator="kind")
]
_adapter: TypeAdapter[Any] = TypeAdapter(AnyMessage)


Message = RunRequestV1 | RunQueuedV1 | StepEventV1 | RunFinishedV1 | RunControlV1


def decode_message(body: bytes) -> Message:
    """Raises pydantic.ValidationError for a body no version of ours can read."""
    return _adapter.validate_json(body)  # type: ignore[no-any-return]
