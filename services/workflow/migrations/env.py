"""Alembic environment of the workflow service: its own schema, its own version table."""

from services.workflow.models import Base
from shared.migrations import run_env

run_env(Base.metadata, "workflow")
