"""The broker wrapper against a real RabbitMQ: confirmed publishes, consumers, the unreachable case."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aio_pika.abc import AbstractIncomingMessage

from shared.errors import ServiceUnavailable
from shared.messaging import Broker, RunFinishedV1, decode_message
from shared.settings import Settings
from tests.support.platform import free_port
from tests.support.servers import Servers

pytestmark = pytest.mark.integration


def _settings(servers: Servers, **kw: object) -> Settings:
    return Settings(amqp_url=servers.amqp_url, broker_namespace=f"echotest.broker.{uuid.uuid4().hex[:8]}", **kw)  # type: ignore[arg-type]


async def test_confirmed_publish_reaches_a_consumer(servers: Servers) -> None:
    broker = Broker(_settings(servers), name="test")
    broker.start()
    try:
        assert await broker.wait_connected(10)
        got: asyncio.Queue[bytes] = asyncio.Queue()

        async def handler(message: AbstractIncomingMessage) -> None:
            async with message.process():
                await got.put(message.body)

        queue_name = f"{broker.topology.namespace}.probe"
        await broker.consume(queue_name, handler, bindings=((broker.topology.runs_exchange, "probe"),), exclusive=False)
        msg = RunFinishedV1(
            run_id=uuid.uuid4(),
            workflow_id=uuid.uuid4(),
            user_id=uuid.uuid4(),
            status="completed",
            output="done",
            finished_at=datetime.now(UTC),
        )
        await broker.publish(broker.topology.runs_exchange, "probe", msg, mandatory=True)
        body = await asyncio.wait_for(got.get(), 10)
        decoded = decode_message(body)
        assert isinstance(decoded, RunFinishedV1) and decoded.run_id == msg.run_id
        # Unroutable + mandatory is refused, not silently confirmed.
        with pytest.raises(ServiceUnavailable):
            await broker.publish(broker.topology.runs_exchange, "nobody-listens", msg, mandatory=True)
        assert await broker.state() == ("ok", None)
        assert broker.connection is not None
        channel = await broker.connection.channel()
        await channel.queue_delete(queue_name)
        for spec in broker.topology.durable_queues:
            await channel.queue_delete(spec.name)
        for ex in broker.topology.exchanges:
            await channel.exchange_delete(ex.name)
    finally:
        await broker.close()


async def test_unreachable_broker_fails_fast_with_503() -> None:
    broker = Broker(Settings(amqp_url=f"amqp://guest:guest@127.0.0.1:{free_port()}/"), name="test")
    broker.start()
    try:
        assert not await broker.wait_connected(0.5)
        state, detail = await broker.state()
        assert state == "down" and detail
        msg = RunFinishedV1(
            run_id=uuid.uuid4(),
            workflow_id=uuid.uuid4(),
            user_id=uuid.uuid4(),
            status="failed",
            finished_at=datetime.now(UTC),
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ServiceUnavailable):
            await broker.publish(broker.topology.runs_exchange, "x", msg)
        assert loop.time() - started < 1
    finally:
        await broker.close()
