"""run ids move from a JSONB array on the session row to one row each in session.session_runs

Revision ID: 585b4b2497f8
Revises: 57a5fa1c4db0
Create Date: 2026-11-28 13:00:00

Listing a run appended to the array, which rewrote (and re-logged) every run id of the session each time: 1,000
runs listed on a session that already lists 5,000 wrote about 240 MB of WAL. One row per run, keyed
(session_id, run_id), makes listing a run one small INSERT; `position` keeps the order the runs were listed in,
and `run_count` on the session hands out the next one the way `message_count` hands out a message's seq. A
session still reads in one query (an ordered aggregate). Both directions move the existing run ids in order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "585b4b2497f8"
down_revision: str | None = "57a5fa1c4db0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The array never held a run twice (it was appended to only when the id was not in it yet); DO NOTHING keeps a
# hand-edited duplicate from stopping the upgrade, and its first place stands.
MOVE_TO_ROWS = """
INSERT INTO session.session_runs (session_id, run_id, position)
SELECT s.session_id, e.run_id::uuid, e.ord::integer
FROM session.chat_sessions s
CROSS JOIN LATERAL jsonb_array_elements_text(s.run_ids) WITH ORDINALITY AS e(run_id, ord)
ORDER BY s.session_id, e.ord
ON CONFLICT (session_id, run_id) DO NOTHING
"""
COUNT_RUNS = """
UPDATE session.chat_sessions s SET run_count = jsonb_array_length(s.run_ids) WHERE jsonb_array_length(s.run_ids) > 0
"""

MOVE_TO_ARRAYS = """
UPDATE session.chat_sessions s SET run_ids = r.list
FROM (
    SELECT session_id, jsonb_agg(run_id::text ORDER BY position) AS list FROM session.session_runs GROUP BY session_id
) r
WHERE s.session_id = r.session_id
"""


def upgrade() -> None:
    op.create_table(
        "session_runs",
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("position > 0", name=op.f("ck_session_runs_position")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["session.chat_sessions.session_id"],
            name=op.f("fk_session_runs_session_id_chat_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "run_id", name=op.f("pk_session_runs")),
        schema="session",
    )
    op.add_column(
        "chat_sessions",
        sa.Column("run_count", sa.Integer(), server_default="0", nullable=False),
        schema="session",
    )
    op.execute(MOVE_TO_ROWS)
    op.execute(COUNT_RUNS)
    op.drop_column("chat_sessions", "run_ids", schema="session")


def downgrade() -> None:
    op.add_column(
        "chat_sessions",
        sa.Column(
            "run_ids", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        schema="session",
    )
    op.execute(MOVE_TO_ARRAYS)
    op.drop_column("chat_sessions", "run_count", schema="session")
    op.drop_table("session_runs", schema="session")
