"""users, with the seeded admin

Revision ID: ad0e51c2a001
Revises:
Create Date: 2026-11-26 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.settings import get_settings

revision: str = "ad0e51c2a001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        schema="gateway",
    )
    settings = get_settings()
    op.get_bind().execute(
        sa.text(
            "INSERT INTO gateway.users (user_id, email, display_name) VALUES (:id, :email, 'Administrator') "
            "ON CONFLICT DO NOTHING"
        ),
        {"id": settings.admin_user_id, "email": settings.admin_email.lower()},
    )


def downgrade() -> None:
    op.drop_table("users", schema="gateway")
