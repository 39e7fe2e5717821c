"""The executor in process with its real lifespan (RabbitMQ consumer, PostgreSQL, CrewAI), fed run requests
directly: an execution row plus a RunRequestV1 (or the RunQueuedV1 `chat/send` publishes) on the run-requests
queue.
Step events are read from the events exchange by a tap of our own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor.app import create_app
from services.executor.repository import SendRepository
from shared.db import driver_of, utcnow
from shared.messaging import RunQueuedV1, RunRequestV1, StepEventV1, decode_message
from shared.messaging.messages import TERMINAL_EVENTS
from shared.messaging.topology import RUN_REQUESTS_KEY, Topology
from shared.settings import get_settings
from tests.support.apps import running_app
from tests.support.auth import headers_for


def agent(
    agent_id: str, role: str, description: str, *, hitl: dict[str, Any] | None = None, **llm: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "agent_id": agent_id,
        "name": role,
        "role": role,
        "goal": f"Act as the {role}",
        "task": {"description": description, "expected_output": "text"},
        "llm": {"provider": "echo", "model": "echo-1", **llm},
    }
    if hitl is not None:
        spec["hitl"] = hitl
    return spec


@dataclass
class EventTap:
    """Every step event of this test run's namespace, by run."""

    events: dict[uuid.UUID, list[StepEventV1]] = field(default_factory=lambda: defaultdict(list))
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        event = decode_message(message.body)
        assert isinstance(event, StepEventV1)
        async with self.changed:
            self.events[event.run_id].append(event)
            self.changed.notify_all()

    async def until_terminal(self, run_id: uuid.UUID, timeout: float = 30) -> list[StepEventV1]:
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(lambda: any(e.type in TERMINAL_EVENTS for e in self.events[run_id]))
        return sorted(self.events[run_id], key=lambda e: e.seq)

    async def until(self, run_id: uuid.UUID, type_: str, timeout: float = 30) -> StepEventV1:
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(lambda: any(e.type == type_ for e in self.events[run_id]))
        return next(e for e in self.events[run_id] if e.type == type_)


def row_of(request: RunRequestV1, stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `chat/send` writes for `request` (`SendRepository.insert`); `stored` replaces fields of the request."""
    return {
        "run_id": request.run_id,
        "workflow_id": request.workflow_id,
        "workflow_name": request.workflow_name,
        "user_id": request.user_id,
        "session_id": request.session_id,
        "request_json": json.dumps({**request.model_dump(mode="json"), **(stored or {})}),
    }


async def insert_row(engine: AsyncEngine, request: RunRequestV1, stored: dict[str, Any] | None = None) -> None:
    """The row `chat/send` writes, with the statement it writes it with."""
    async with engine.connect() as conn:
        await SendRepository(await driver_of(conn)).insert(**row_of(request, stored))


@dataclass
class Executor:
    client: httpx.AsyncClient
    tap: EventTap
    user_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def app(self) -> Any:
        return self.client.app  # type: ignore[attr-defined]

    @property
    def headers(self) -> dict[str, str]:
        return headers_for(self.user_id)

    def request(self, definition: dict[str, Any], **kwargs: Any) -> RunRequestV1:
        return RunRequestV1(
            run_id=uuid.uuid4(),
            workflow_id=uuid.uuid4(),
            user_id=self.user_id,
            definition=definition,
            requested_at=utcnow(),
            **kwargs,
        )

    async def insert(self, request: RunRequestV1, *, stored: dict[str, Any] | None = None) -> None:
        """The row `chat/send` records; `stored` replaces fields of the request kept in it."""
        await insert_row(self.app.state.engine, request, stored)

    def queued(self, request: RunRequestV1) -> RunQueuedV1:
        """What `chat/send` publishes for `request`."""
        return RunQueuedV1(run_id=request.run_id, user_id=request.user_id, requested_at=utcnow())

    async def publish(self, request: RunRequestV1 | RunQueuedV1) -> None:
        broker = self.app.state.broker
        await broker.publish(broker.topology.runs_exchange, RUN_REQUESTS_KEY, request, mandatory=True)

    async def submit(self, definition: dict[str, Any], **kwargs: Any) -> RunRequestV1:
        request = self.request(definition, **kwargs)
        await self.insert(request)
        await self.publish(request)
        return request

    async def execution(self, run_id: uuid.UUID) -> dict[str, Any]:
        r = await self.client.get(f"/executions/{run_id}", headers=self.headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def steps(self, run_id: uuid.UUID) -> list[dict[str, Any]]:
        r = await self.client.get(f"/executions/{run_id}/steps", headers=self.headers)
        assert r.status_code == 200, r.text
        return list(r.json()["steps"])

    async def finished(self, run_id: uuid.UUID, timeout: float = 30) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                body = await self.execution(run_id)
                if body["status"] in ("completed", "failed", "cancelled"):
                    return body
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def open_tap(namespace: str) -> AsyncIterator[EventTap]:
    tap = EventTap()
    topo = Topology(namespace)
    conn = await aio_pika.connect(get_settings().amqp_url)
    try:
        channel = await conn.channel()
        exchange = await channel.declare_exchange(topo.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, "run.#")
        await queue.consume(tap.on_message, no_ack=True)
        yield tap
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def event_tap(database_url: str) -> AsyncIterator[EventTap]:
    async with open_tap(get_settings().broker_namespace) as tap:
        yield tap


# Per module, not per session: a consumer left running in this process would hold deliveries unprocessed while
# later synchronous tests (the e2e ones) keep the event loop from running.
@pytest.fixture(scope="module")
async def executor(database_url: str, event_tap: EventTap) -> AsyncIterator[Executor]:
    async with running_app(create_app) as client:
        await asyncio.wait_for(client.app.state.consumers.started.wait(), 60)  # type: ignore[attr-defined]
        yield Executor(client, event_tap)
