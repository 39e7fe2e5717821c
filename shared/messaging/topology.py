"""Exchanges and queues, declared in one place; every process declares what it uses (declaration is idempotent).

All names carry a namespace (`ECHO_BROKER_NAMESPACE`, default `echo`) so that two platforms, or two test runs,
can share one RabbitMQ without taking each other's messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aio_pika import ExchangeType

MAX_DELIVERIES = 3  # a run request that killed its executor this many times is dead-lettered
RUN_REQUESTS_KEY = "run.request"
RUN_FINISHED_KEY = "run.finished"


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


@dataclass(frozen=True)
class Topology:
    namespace: str = "echo"

    # Run requests: durable, persistent, confirmed; dead-lettered after MAX_DELIVERIES.
    @property
    def runs_exchange(self) -> str:
        return f"{self.namespace}.runs"

    @property
    def runs_dlx(self) -> str:
        return f"{self.namespace}.runs.dead"

    # Step events: ephemeral, topic `run.<run_id>.<type>`; every gateway replica binds its own exclusive queue.
    @property
    def events_exchange(self) -> str:
        return f"{self.namespace}.events"

    # Control (cancel, resume): fanned out to every executor's own exclusive queue.
    @property
    def control_exchange(self) -> str:
        return f"{self.namespace}.control"

    @property
    def run_requests(self) -> QueueSpec:
        return QueueSpec(
            f"{self.namespace}.run-requests",
            self.runs_exchange,
            RUN_REQUESTS_KEY,
            # Quorum queues count deliveries; past the limit the message goes to the dead-letter exchange.
            {"x-queue-type": "quorum", "x-delivery-limit": MAX_DELIVERIES - 1, "x-dead-letter-exchange": self.runs_dlx},
        )

    @property
    def run_requests_dead(self) -> QueueSpec:
        return QueueSpec(f"{self.namespace}.run-requests.dead", self.runs_dlx, "", {"x-queue-type": "quorum"})

    @property
    def session_run_finished(self) -> QueueSpec:
        """Run outcomes, for the session service's chat history."""
        return QueueSpec(
            f"{self.namespace}.session.run-finished", self.runs_exchange, RUN_FINISHED_KEY, {"x-queue-type": "quorum"}
        )

    @property
    def exchanges(self) -> tuple[ExchangeSpec, ...]:
        return (
            ExchangeSpec(self.runs_exchange, ExchangeType.DIRECT),
            ExchangeSpec(self.runs_dlx, ExchangeType.FANOUT),
            ExchangeSpec(self.events_exchange, ExchangeType.TOPIC),
            ExchangeSpec(self.control_exchange, ExchangeType.FANOUT),
        )

    @property
    def durable_queues(self) -> tuple[QueueSpec, ...]:
        return (self.run_requests, self.run_requests_dead, self.session_run_finished)


def event_routing_key(run_id: object, event_type: str) -> str:
    return f"run.{run_id}.{event_type}"
