"""The executor's own Prometheus metrics (served at `/metrics` with the HTTP ones; one process per container, so
the default registry is exact)."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

from services.executor.models import Execution

# Runs last from milliseconds (echo) to hours (a person deciding): buckets span both.
_RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
_STEP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

RUNS = Counter("echoai_runs", "Runs that ended, by final status (completed, failed, cancelled).", ["status"])
RUN_DURATION = Histogram(
    "echoai_run_duration_seconds",
    "From the run's creation to its end (time paused for a person included).",
    buckets=_RUN_BUCKETS,
)
STEP_DURATION = Histogram(
    "echoai_step_duration_seconds", "One step's model work, from start to its result.", buckets=_STEP_BUCKETS
)
RUNS_IN_FLIGHT = Gauge("echoai_runs_in_flight", "Runs this executor is working on now (a paused run is not one).")
WORKFLOW_READS = Counter(
    "echoai_executor_workflow_reads",
    "Workflows a send needed, by where they came from: memory (unchanged since read) or http.",
    ["source"],
)
CHECKPOINTS_PENDING = Gauge(
    "echoai_checkpoints_pending", "Checkpoints waiting for a decision, all runs (refreshed from the database)."
)


def run_ended(run: Execution) -> None:
    """Count a run whose terminal status was just committed (called once per run, by whoever committed it)."""
    RUNS.labels(status=run.status).inc()
    end = run.completed_at
    if isinstance(end, datetime) and isinstance(run.created_at, datetime):
        RUN_DURATION.observe(max(0.0, (end - run.created_at).total_seconds()))
