"""checkpoints become hitl_checkpoints: audit trail, owner and workflow for the inbox, deadlines; workflow name
on executions

Revision ID: b7d2e4f61a03
Revises: e5c1a7d90b01
Create Date: 2026-11-27 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d2e4f61a03"
down_revision: str | None = "e5c1a7d90b01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "executor"
OLD, NEW = "checkpoints", "hitl_checkpoints"
RENAMED = (
    ("pk_checkpoints", "pk_hitl_checkpoints"),
    ("fk_checkpoints_run_id_executions", "fk_hitl_checkpoints_run_id_executions"),
    ("uq_checkpoints_run_id_step_id", "uq_hitl_checkpoints_run_id_step_id"),
)


def upgrade() -> None:
    op.add_column("executions", sa.Column("workflow_name", sa.String(length=300), nullable=True), schema=S)
    op.rename_table(OLD, NEW, schema=S)
    for old, new in RENAMED:
        op.execute(f"ALTER TABLE {S}.{NEW} RENAME CONSTRAINT {old} TO {new}")
    op.drop_constraint(op.f("ck_checkpoints_status"), NEW, type_="check", schema=S)
    op.create_check_constraint(
        op.f("ck_hitl_checkpoints_status"),
        NEW,
        "status IN ('pending', 'approved', 'edited', 'rejected', 'cancelled')",
        schema=S,
    )
    for name, type_ in (
        ("user_id", sa.UUID()),
        ("workflow_id", sa.UUID()),
        ("workflow_name", sa.String(length=300)),
        ("agent_name", sa.String(length=300)),
        ("edited_output", sa.Text()),
        ("decided_by", sa.UUID()),
        ("reason", sa.String(length=16)),
        ("expires_at", sa.DateTime(timezone=True)),
    ):
        op.add_column(NEW, sa.Column(name, type_, nullable=True), schema=S)
    op.add_column(NEW, sa.Column("on_timeout", sa.String(length=16), server_default="reject", nullable=False), schema=S)
    # Rows from before (none are expected: nothing paused yet) take their owner and workflow from the run.
    op.execute(
        f"UPDATE {S}.{NEW} c SET user_id = e.user_id, workflow_id = e.workflow_id, agent_name = c.agent_id "
        f"FROM {S}.executions e WHERE e.run_id = c.run_id"
    )
    for name in ("user_id", "workflow_id", "agent_name"):
        op.alter_column(NEW, name, nullable=False, schema=S)
    op.create_check_constraint(
        op.f("ck_hitl_checkpoints_on_timeout"), NEW, "on_timeout IN ('approve', 'reject')", schema=S
    )
    op.create_check_constraint(
        op.f("ck_hitl_checkpoints_reason"), NEW, "reason IS NULL OR reason IN ('person', 'timeout')", schema=S
    )
    op.create_index("ix_hitl_checkpoints_user_created", NEW, ["user_id", "created_at", "checkpoint_id"], schema=S)
    op.create_index(
        "ix_hitl_checkpoints_due", NEW, ["expires_at"], schema=S, postgresql_where=sa.text("status = 'pending'")
    )


def downgrade() -> None:
    op.drop_index("ix_hitl_checkpoints_due", table_name=NEW, schema=S)
    op.drop_index("ix_hitl_checkpoints_user_created", table_name=NEW, schema=S)
    op.drop_constraint(op.f("ck_hitl_checkpoints_reason"), NEW, type_="check", schema=S)
    op.drop_constraint(op.f("ck_hitl_checkpoints_on_timeout"), NEW, type_="check", schema=S)
    for name in (
        "on_timeout", "expires_at", "reason", "decided_by", "edited_output", "agent_name", "workflow_name",
        "workflow_id", "user_id",
    ):  # fmt: skip
        op.drop_column(NEW, name, schema=S)
    op.drop_constraint(op.f("ck_hitl_checkpoints_status"), NEW, type_="check", schema=S)
    # A cancelled checkpoint has no place in the older set of states: it was never decided.
    op.execute(f"UPDATE {S}.{NEW} SET status = 'rejected' WHERE status = 'cancelled'")
    op.create_check_constraint(
        op.f("ck_checkpoints_status"), NEW, "status IN ('pending', 'approved', 'edited', 'rejected')", schema=S
    )
    for old, new in RENAMED:
        op.execute(f"ALTER TABLE {S}.{NEW} RENAME CONSTRAINT {new} TO {old}")
    op.rename_table(NEW, OLD, schema=S)
    op.drop_column("executions", "workflow_name", schema=S)
