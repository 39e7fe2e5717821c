"""chat sessions with embedded messages, per-tool config overrides, the JSON merge patch function

Revision ID: 82efc0c2057f
Revises:
Create Date: 2026-11-26 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "82efc0c2057f"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# RFC 7396 in the database, so a variables patch is one UPDATE (concurrent patches of different keys all land).
MERGE_PATCH = """
CREATE FUNCTION session.jsonb_merge_patch(target jsonb, patch jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    result jsonb;
    k text;
    v jsonb;
BEGIN
    IF patch IS NULL OR jsonb_typeof(patch) <> 'object' THEN
        RETURN patch;
    END IF;
    IF target IS NULL OR jsonb_typeof(target) <> 'object' THEN
        result := '{}'::jsonb;
    ELSE
        result := target;
    END IF;
    FOR k, v IN SELECT key, value FROM jsonb_each(patch) LOOP
        IF jsonb_typeof(v) = 'null' THEN
            result := result - k;
        ELSE
            result := jsonb_set(result, ARRAY[k], session.jsonb_merge_patch(result -> k, v));
        END IF;
    END LOOP;
    RETURN result;
END
$$
"""

# Every append rewrites the whole array; lz4 (de)compresses it about twice as fast as the default pglz.
# Servers built without lz4 keep pglz.
LZ4_MESSAGES = """
DO $$
BEGIN
    ALTER TABLE session.chat_sessions ALTER COLUMN messages SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available; chat_sessions.messages keeps the default compression';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "chat_sessions",
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("context_type", sa.String(length=32), server_default="general", nullable=False),
        sa.Column("context_id", sa.String(length=200), nullable=True),
        sa.Column(
            "variables", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "selected_tool_ids",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "run_ids", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column(
            "messages", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("message_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("content_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "context_type IN ('general', 'workflow', 'agent', 'workflow_design')",
            name=op.f("ck_chat_sessions_context_type"),
        ),
        sa.CheckConstraint("jsonb_typeof(variables) = 'object'", name=op.f("ck_chat_sessions_variables_object")),
        sa.CheckConstraint("message_count >= 0", name=op.f("ck_chat_sessions_message_count")),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_chat_sessions")),
        schema="session",
    )
    op.create_index(
        "ix_chat_sessions_user_context", "chat_sessions", ["user_id", "context_type", "context_id"], schema="session"
    )
    op.create_index(
        "ix_chat_sessions_user_recent",
        "chat_sessions",
        ["user_id", sa.literal_column("updated_at DESC"), sa.literal_column("session_id DESC")],
        schema="session",
    )
    op.execute(LZ4_MESSAGES)
    op.create_table(
        "session_tool_configs",
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("tool_id", sa.String(length=200), nullable=False),
        sa.Column("config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["session.chat_sessions.session_id"],
            name=op.f("fk_session_tool_configs_session_id_chat_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "tool_id", name=op.f("pk_session_tool_configs")),
        schema="session",
    )
    op.execute(MERGE_PATCH)


def downgrade() -> None:
    op.execute("DROP FUNCTION session.jsonb_merge_patch(jsonb, jsonb)")
    op.drop_table("session_tool_configs", schema="session")
    op.drop_index("ix_chat_sessions_user_recent", table_name="chat_sessions", schema="session")
    op.drop_index("ix_chat_sessions_user_context", table_name="chat_sessions", schema="session")
    op.drop_table("chat_sessions", schema="session")
