"""login attempts per account and client address, for the failed-login limits

Revision ID: b7c41e9d2f10
Revises: ad0e51c2a001
Create Date: 2026-11-27 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c41e9d2f10"
down_revision: str | None = "ad0e51c2a001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "subject", name=op.f("pk_login_attempts")),
        schema="gateway",
    )
    op.create_index(
        op.f("ix_gateway_login_attempts_window_started_at"),
        "login_attempts",
        ["window_started_at"],
        unique=False,
        schema="gateway",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_gateway_login_attempts_window_started_at"), table_name="login_attempts", schema="gateway")
    op.drop_table("login_attempts", schema="gateway")
