from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata("workflow")


class Workflow(Base):
    """The current definition of a workflow (last draft or final save); temp saves never reach this table."""

    __tablename__ = "workflows"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'final')", name="status"),
        Index("ix_workflows_user_id_created_at", "user_id", "created_at"),
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    # The number of the latest final version; 0 until the first final save.
    version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WorkflowVersion(Base):
    """One immutable snapshot per final save; a trigger refuses UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "workflow_versions"

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workflow.workflows.workflow_id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (
        Index("ix_agents_user_id_created_at", "user_id", "created_at"),
        Index("ix_agents_source_workflow_id", "source_workflow_id"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(String(200))
    # No foreign key: the agent outlives the workflow that last saved it.
    source_workflow_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Tool(Base):
    """A user's tool, or (user_id NULL) one of the platform's builtin tools, visible to all and read-only."""

    __tablename__ = "tools"
    __table_args__ = (
        CheckConstraint("tool_type IN ('builtin', 'api', 'custom')", name="tool_type"),
        Index("ix_tools_tags", "tags", postgresql_using="gin"),
        Index("ix_tools_user_id_created_at", "user_id", "created_at"),
    )

    tool_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(String(200))
    tool_type: Mapped[str] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
