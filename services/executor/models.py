from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.contracts import CHECKPOINT_STATUSES, RUN_STATUSES, STEP_STATUSES
from shared.db import make_metadata


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = make_metadata("executor")


class Execution(Base):
    """One run. Status transitions are conditional UPDATEs, so a redelivered request never runs twice."""

    __tablename__ = "executions"
    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        Index("ix_executions_user_created", "user_id", "created_at", "run_id"),
        Index("ix_executions_workflow", "workflow_id"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    workflow_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # The name when the run was sent: the approvals inbox shows it without asking the workflow service.
    workflow_name: Mapped[str | None] = mapped_column(String(300))
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    session_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # The RunRequestV1 as published: the definition and tool snapshot this run uses, whatever happens upstream.
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Seq of the last step event; incremented atomically so events stay gap-free across executors.
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Whether RunFinishedV1 went out; a redelivered finished run re-sends it when it did not.
    finish_published: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ExecutionStep(Base):
    """A finished step is a durable point: a resumed run feeds its stored output forward instead of re-running it."""

    __tablename__ = "execution_steps"
    __table_args__ = (
        UniqueConstraint("run_id", "step_id", name="uq_execution_steps_run_id_step_id"),
        CheckConstraint(_in("status", STEP_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("executions.run_id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(String(200))
    agent_id: Mapped[str] = mapped_column(String(200))
    agent_name: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16))
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Checkpoint(Base):
    """A step's output waiting for a person. Deciding is a conditional UPDATE on `status = 'pending'`, so of two
    decisions (or a person and the timeout sweeper) exactly one wins. It carries the owner, the workflow and its
    name, so the inbox is one indexed query of this table."""

    __tablename__ = "hitl_checkpoints"
    __table_args__ = (
        UniqueConstraint("run_id", "step_id", name="uq_hitl_checkpoints_run_id_step_id"),
        CheckConstraint(_in("status", CHECKPOINT_STATUSES), name="status"),
        CheckConstraint("on_timeout IN ('approve', 'reject')", name="on_timeout"),
        CheckConstraint("reason IS NULL OR reason IN ('person', 'timeout')", name="reason"),
        Index("ix_hitl_checkpoints_user_created", "user_id", "created_at", "checkpoint_id"),
        # The timeout sweeper reads only pending checkpoints with a deadline.
        Index("ix_hitl_checkpoints_due", "expires_at", postgresql_where=text("status = 'pending'")),
    )

    checkpoint_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("executions.run_id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    workflow_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    workflow_name: Mapped[str | None] = mapped_column(String(300))
    step_id: Mapped[str] = mapped_column(String(200))
    agent_id: Mapped[str] = mapped_column(String(200))
    agent_name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # The step's output under review, as the model produced it (an edit goes to `edited_output` and the step).
    output: Mapped[str | None] = mapped_column(Text)
    edited_output: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    # Who decided (empty when the platform did) and why: `person` or `timeout`.
    decided_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    reason: Mapped[str | None] = mapped_column(String(16))
    on_timeout: Mapped[str] = mapped_column(String(16), default="reject", server_default="reject")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
