"""Exchanges and queues, declared in one place; every process declares what it uses (declaration is idempotent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aio_pika import ExchangeType

# Run requests: durable, persistent, confirmed; a run that keeps killing its consumer is dead-lettered.
RUNS_EXCHANGE = "echo.runs"
RUN_REQUESTS_QUEUE = "echo.run-requests"
RUN_REQUESTS_KEY = "run.request"
RUNS_DLX = "echo.runs.dead"
RUN_REQUESTS_DEAD_QUEUE = "echo.run-requests.dead"
MAX_DELIVERIES = 3

# Run outcomes: durable, for the session service's chat history.
RUN_FINISHED_KEY = "run.finished"
SESSION_RUN_FINISHED_QUEUE = "echo.session.run-finished"

# Step events: ephemeral, topic `run.<run_id>.<type>`; every gateway replica binds its own exclusive queue.
EVENTS_EXCHANGE = "echo.events"

# Control (cancel, resume): fanned out to every executor's own exclusive queue.
CONTROL_EXCHANGE = "echo.control"


@dataclass(frozen=True)
class ExchangeSpec:
    name: str
    type: ExchangeType
    durable: bool = True


@dataclass(frozen=True)
class QueueSpec:
    name: str
    exchange: str
    routing_key: str
    arguments: dict[str, Any] = field(default_factory=dict)


EXCHANGES = (
    ExchangeSpec(RUNS_EXCHANGE, ExchangeType.DIRECT),
    ExchangeSpec(RUNS_DLX, ExchangeType.FANOUT),
    ExchangeSpec(EVENTS_EXCHANGE, ExchangeType.TOPIC),
    ExchangeSpec(CONTROL_EXCHANGE, ExchangeType.FANOUT),
)

RUN_REQUESTS = QueueSpec(
    RUN_REQUESTS_QUEUE,
    RUNS_EXCHANGE,
    RUN_REQUESTS_KEY,
    # Quorum queues count deliveries; past the limit the message goes to the dead-letter exchange.
    {"x-queue-type": "quorum", "x-delivery-limit": MAX_DELIVERIES - 1, "x-dead-letter-exchange": RUNS_DLX},
)
RUN_REQUESTS_DEAD = QueueSpec(RUN_REQUESTS_DEAD_QUEUE, RUNS_DLX, "", {"x-queue-type": "quorum"})
SESSION_RUN_FINISHED = QueueSpec(SESSION_RUN_FINISHED_QUEUE, RUNS_EXCHANGE, RUN_FINISHED_KEY, {"x-queue-type": "quorum"})

DURABLE_QUEUES = (RUN_REQUESTS, RUN_REQUESTS_DEAD, SESSION_RUN_FINISHED)


def event_routing_key(run_id: object, event_type: str) -> str:
    return f"run.{run_id}.{event_type}"
