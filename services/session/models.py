"""The session schema: one row per chat session, one row per message, plus per-tool overrides.

Invariants the repository keeps (and anything importing sessions must keep too):
- a session's messages have `seq` 1, 2, ..., `message_count` with no gap, so a page is a primary-key range;
- `version` goes up by one with every change of the session (its row or its messages) and never down: cache
  entries are keyed by it;
- `content_bytes` is the sum of the UTF-8 sizes of the message contents (the session size guard);
- a session's runs have distinct `position`s, each at most `run_count`, in the order they were listed (gaps
  allowed: two requests listing the same run at once may both take a position, and one of them is not used).

Appends lock the session row (the `UPDATE` that takes the next seq from `message_count`), so concurrent appends
of one session queue up there and get distinct, gap-free seqs; the message row itself is a plain `INSERT`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import make_metadata

CONTEXT_TYPES = ("general", "workflow", "agent", "workflow_design")
ROLES = ("user", "assistant", "system", "tool")


class Base(DeclarativeBase):
    metadata = make_metadata("session")


class ChatSession(Base):
    __tablename__ = "chat_sessions"
    __table_args__ = (
        CheckConstraint(f"context_type IN {CONTEXT_TYPES}", name="context_type"),
        CheckConstraint("message_count >= 0", name="message_count"),
        CheckConstraint("jsonb_typeof(variables) = 'object'", name="variables_object"),
        Index("ix_chat_sessions_user_recent", "user_id", text("updated_at DESC"), text("session_id DESC")),
        Index("ix_chat_sessions_user_context", "user_id", "context_type", "context_id"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    title: Mapped[str] = mapped_column(String(200))
    context_type: Mapped[str] = mapped_column(String(32), server_default="general")
    context_id: Mapped[str | None] = mapped_column(String(200))
    variables: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    selected_tool_ids: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    message_count: Mapped[int] = mapped_column(Integer, server_default="0")
    content_bytes: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # The position the next listed run takes (`SessionRun.position`); runs are never unlisted.
    run_count: Mapped[int] = mapped_column(Integer, server_default="0")
    version: Mapped[int] = mapped_column(BigInteger, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Message(Base):
    """One chat message; an append writes one of these and touches nothing else of the history."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES}", name="role"),
        CheckConstraint("seq > 0", name="seq"),
        # The run-outcome consumer's "is this run's answer already here" lookup.
        Index("ix_messages_session_id_run", "session_id", "run_id", postgresql_where=text("run_id IS NOT NULL")),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(ChatSession.session_id, ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    # Named `metadata` in the table and the API; `metadata` is taken on a declarative class.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default=text("'{}'::jsonb"))
    run_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SessionRun(Base):
    """A run of the session (`run_ids` in the API, in `position` order); listing one writes only this row."""

    __tablename__ = "session_runs"
    __table_args__ = (CheckConstraint("position > 0", name="position"),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(ChatSession.session_id, ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class SessionToolConfig(Base):
    __tablename__ = "session_tool_configs"

    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(ChatSession.session_id, ondelete="CASCADE"), primary_key=True
    )
    tool_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
