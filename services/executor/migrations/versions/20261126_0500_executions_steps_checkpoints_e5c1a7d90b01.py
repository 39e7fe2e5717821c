"""executions, execution_steps and checkpoints

Revision ID: e5c1a7d90b01
Revises:
Create Date: 2026-11-26 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e5c1a7d90b01"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "executions",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("workflow_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("finish_published", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'paused', 'completed', 'failed', 'cancelled')",
            name=op.f("ck_executions_status"),
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_executions")),
        schema="executor",
    )
    op.create_index("ix_executions_user_created", "executions", ["user_id", "created_at", "run_id"], schema="executor")
    op.create_index("ix_executions_workflow", "executions", ["workflow_id"], schema="executor")
    op.create_table(
        "execution_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("step_id", sa.String(length=200), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=False),
        sa.Column("agent_name", sa.String(length=300), nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default="1", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed', 'cancelled')", name=op.f("ck_execution_steps_status")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["executor.executions.run_id"],
            name=op.f("fk_execution_steps_run_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_execution_steps")),
        sa.UniqueConstraint("run_id", "step_id", name="uq_execution_steps_run_id_step_id"),
        schema="executor",
    )
    op.create_table(
        "checkpoints",
        sa.Column("checkpoint_id", sa.UUID(), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("step_id", sa.String(length=200), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'edited', 'rejected')", name=op.f("ck_checkpoints_status")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["executor.executions.run_id"],
            name=op.f("fk_checkpoints_run_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("checkpoint_id", name=op.f("pk_checkpoints")),
        sa.UniqueConstraint("run_id", "step_id", name="uq_checkpoints_run_id_step_id"),
        schema="executor",
    )


def downgrade() -> None:
    op.drop_table("checkpoints", schema="executor")
    op.drop_table("execution_steps", schema="executor")
    op.drop_index("ix_executions_workflow", table_name="executions", schema="executor")
    op.drop_index("ix_executions_user_created", table_name="executions", schema="executor")
    op.drop_table("executions", schema="executor")
