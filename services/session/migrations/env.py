"""Alembic environment of the session service: its own schema, its own version table."""

from services.session.models import Base
from shared.migrations import run_env

run_env(Base.metadata, "session")
