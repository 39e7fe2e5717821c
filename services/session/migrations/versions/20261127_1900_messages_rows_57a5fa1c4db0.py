"""messages move from a JSONB array on the session row to one row each in session.messages

Revision ID: 57a5fa1c4db0
Revises: 82efc0c2057f
Create Date: 2026-11-27 19:00:00

Appending to the array rewrote (and re-logged) the whole history on every message, so a long session's total
cost grew with the square of its length. One row per message, keyed (session_id, seq), makes an append one
small INSERT; a whole session is still read in one query (an ordered aggregate over the primary key).
Both directions move the existing messages; seq is the message's position in the array (the invariant the
array kept), timestamps keep their microseconds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "57a5fa1c4db0"
down_revision: str | None = "82efc0c2057f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOVE_TO_ROWS = """
INSERT INTO session.messages (session_id, seq, message_id, role, content, metadata, run_id, created_at)
SELECT s.session_id, e.ord::integer, (e.m ->> 'message_id')::uuid, e.m ->> 'role', e.m ->> 'content',
       coalesce(e.m -> 'metadata', '{}'::jsonb), (e.m ->> 'run_id')::uuid, (e.m ->> 'created_at')::timestamptz
FROM session.chat_sessions s
CROSS JOIN LATERAL jsonb_array_elements(s.messages) WITH ORDINALITY AS e(m, ord)
"""

MOVE_TO_ARRAYS = """
UPDATE session.chat_sessions s SET messages = m.list
FROM (
    SELECT session_id, jsonb_agg(jsonb_build_object(
        'message_id', message_id::text, 'seq', seq, 'role', role, 'content', content, 'metadata', metadata,
        'run_id', run_id::text,
        'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    ) ORDER BY seq) AS list
    FROM session.messages GROUP BY session_id
) m
WHERE s.session_id = m.session_id
"""

# As the first revision set it: the array is rewritten on every append, lz4 (de)compresses it faster.
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
        "messages",
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("run_id", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role IN ('user', 'assistant', 'system', 'tool')", name=op.f("ck_messages_role")),
        sa.CheckConstraint("seq > 0", name=op.f("ck_messages_seq")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["session.chat_sessions.session_id"],
            name=op.f("fk_messages_session_id_chat_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "seq", name=op.f("pk_messages")),
        schema="session",
    )
    op.execute(MOVE_TO_ROWS)
    # After the copy: one index build instead of one insert per row.
    op.create_index(
        "ix_messages_session_id_run",
        "messages",
        ["session_id", "run_id"],
        schema="session",
        postgresql_where=sa.text("run_id IS NOT NULL"),
    )
    op.drop_column("chat_sessions", "messages", schema="session")


def downgrade() -> None:
    op.add_column(
        "chat_sessions",
        sa.Column(
            "messages", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        schema="session",
    )
    op.execute(LZ4_MESSAGES)
    op.execute(MOVE_TO_ARRAYS)
    op.drop_index("ix_messages_session_id_run", table_name="messages", schema="session")
    op.drop_table("messages", schema="session")
