"""workflows, immutable workflow versions, agents, tools

Revision ID: 5c1f0a7e2b01
Revises:
Create Date: 2026-11-26 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5c1f0a7e2b01"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Versions are history: nothing may change or remove a row once written (TRUNCATE included).
REFUSE_CHANGE = """
CREATE FUNCTION workflow.refuse_version_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'workflow versions are immutable: % refused on workflow.workflow_versions', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$
"""


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("workflow_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        *_timestamps(),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'final')", name=op.f("ck_workflows_status")),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_workflows")),
        schema="workflow",
    )
    op.create_index("ix_workflows_user_id_created_at", "workflows", ["user_id", "created_at"], schema="workflow")

    op.create_table(
        "workflow_versions",
        sa.Column("workflow_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflow.workflows.workflow_id"], name=op.f("fk_workflow_versions_workflow_id_workflows")
        ),
        # The primary key is also what makes two racing final saves unable to write the same number.
        sa.PrimaryKeyConstraint("workflow_id", "version", name=op.f("pk_workflow_versions")),
        schema="workflow",
    )
    op.execute(REFUSE_CHANGE)
    op.execute(
        "CREATE TRIGGER workflow_versions_immutable BEFORE UPDATE OR DELETE ON workflow.workflow_versions "
        "FOR EACH ROW EXECUTE FUNCTION workflow.refuse_version_change()"
    )
    op.execute(
        "CREATE TRIGGER workflow_versions_no_truncate BEFORE TRUNCATE ON workflow.workflow_versions "
        "FOR EACH STATEMENT EXECUTE FUNCTION workflow.refuse_version_change()"
    )

    op.create_table(
        "agents",
        sa.Column("agent_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source_workflow_id", sa.UUID(), nullable=True),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agents")),
        schema="workflow",
    )
    op.create_index("ix_agents_user_id_created_at", "agents", ["user_id", "created_at"], schema="workflow")
    op.create_index("ix_agents_source_workflow_id", "agents", ["source_workflow_id"], schema="workflow")

    op.create_table(
        "tools",
        sa.Column("tool_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tool_type", sa.String(length=16), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column(
            "definition", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
        *_timestamps(),
        sa.CheckConstraint("tool_type IN ('builtin', 'api', 'custom')", name=op.f("ck_tools_tool_type")),
        sa.PrimaryKeyConstraint("tool_id", name=op.f("pk_tools")),
        schema="workflow",
    )
    op.create_index("ix_tools_tags", "tools", ["tags"], schema="workflow", postgresql_using="gin")
    op.create_index("ix_tools_user_id_created_at", "tools", ["user_id", "created_at"], schema="workflow")


def downgrade() -> None:
    op.drop_index("ix_tools_user_id_created_at", table_name="tools", schema="workflow")
    op.drop_index("ix_tools_tags", table_name="tools", schema="workflow")
    op.drop_table("tools", schema="workflow")
    op.drop_index("ix_agents_source_workflow_id", table_name="agents", schema="workflow")
    op.drop_index("ix_agents_user_id_created_at", table_name="agents", schema="workflow")
    op.drop_table("agents", schema="workflow")
    op.drop_table("workflow_versions", schema="workflow")  # its triggers go with it
    op.execute("DROP FUNCTION workflow.refuse_version_change()")
    op.drop_index("ix_workflows_user_id_created_at", table_name="workflows", schema="workflow")
    op.drop_table("workflows", schema="workflow")
