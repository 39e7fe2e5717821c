"""The gateway served by uvicorn in this event loop (WebSockets need a real server), and a step-event publisher.

Events are published the way the executor does (StepEventV1, topic `run.<run_id>.<type>`, non-persistent), so
these tests need RabbitMQ but no executor. The gateway's executor URL points at a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from services.gateway.app import create_app
from services.gateway.fanout.hub import Hub
from shared.messaging import Broker, StepEventV1
from shared.messaging.topology import event_routing_key
from shared.settings import get_settings
from tests.support.platform import free_port


@dataclass
class Served:
    app: FastAPI
    port: int

    @property
    def hub(self) -> Hub:
        return self.app.state.fanout  # type: ignore[no-any-return]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, run_id: uuid.UUID, **query: Any) -> str:
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return f"ws://127.0.0.1:{self.port}/ws/execution/{run_id}" + (f"?{qs}" if qs else "")

    async def seen(self, run_id: uuid.UUID, seq: int, timeout: float = 10) -> None:
        """Wait until this gateway has folded in event `seq` of the run."""
        async with asyncio.timeout(timeout):
            while True:
                state = self.hub.registry.get(run_id)
                if state is not None and state.last_seq >= seq:
                    return
                await asyncio.sleep(0.01)


@contextlib.contextmanager
def settings_overridden(**overrides: Any) -> Iterator[None]:
    """Settings are read once per process; the gateway reads its limits from them when it starts."""
    settings = get_settings()
    saved = {name: getattr(settings, name) for name in overrides}
    for name, value in overrides.items():
        setattr(settings, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)


@contextlib.asynccontextmanager
async def serve_gateway(**settings: Any) -> AsyncIterator[Served]:
    """The gateway on a free port; `settings` override ECHO_* settings for this instance."""
    with settings_overridden(**settings):
        app = create_app()
        async with _serve(app) as served:
            yield served


@contextlib.asynccontextmanager
async def _serve(app: FastAPI) -> AsyncIterator[Served]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
            served = Served(app, port)
            await served.hub.ready.wait()
        served.hub.executor.base_url = f"http://127.0.0.1:{free_port()}"
        yield served
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@pytest.fixture
async def gw() -> AsyncIterator[Served]:
    async with serve_gateway() as served:
        yield served


@pytest.fixture(scope="session")
async def publisher() -> AsyncIterator[Broker]:
    broker = Broker(get_settings(), name="test-step-events")
    broker.start()
    assert await broker.wait_connected(15), "RabbitMQ is not reachable"
    yield broker
    await broker.close()


async def publish(broker: Broker, *events: StepEventV1) -> None:
    for ev in events:
        await broker.publish(
            broker.topology.events_exchange, event_routing_key(ev.run_id, ev.type), ev, persistent=False, confirm=False
        )


@dataclass
class Received:
    events: list[dict[str, Any]]
    code: int | None
    reason: str

    @property
    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events]


async def read_all(ws: Any) -> Received:
    events: list[dict[str, Any]] = []
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            events.append(json.loads(raw))
    return Received(events, ws.close_code, ws.close_reason)


async def follow(url: str, *, first: dict[str, Any] | None = None, timeout: float = 20) -> Received:
    """Connect, optionally send a first message, and read until the server closes."""
    async with asyncio.timeout(timeout), connect(url, proxy=None, max_size=None) as ws:
        if first is not None:
            await ws.send(json.dumps(first))
        return await read_all(ws)
