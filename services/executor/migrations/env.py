"""Alembic environment of the executor service: its own schema, its own version table."""

from services.executor.models import Base
from shared.migrations import run_env

run_env(Base.metadata, "executor")
