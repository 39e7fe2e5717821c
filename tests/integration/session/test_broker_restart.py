"""The run-outcome consumer keeps working across a restart of RabbitMQ (a private node, so no one else's broker
is touched); the outcome published while the consumer was cut off is not lost."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import httpx
import pytest

from shared.messaging.messages import RunFinishedV1
from shared.messaging.topology import RUN_FINISHED_KEY, Topology
from tests.integration.session.conftest import new_session
from tests.integration.session.support import RABBITMQ_SERVER, RabbitProcess, app_with_env
from tests.support.auth import headers_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def rabbit(tmp_path: Path) -> Iterator[RabbitProcess]:
    if not os.path.exists(RABBITMQ_SERVER):
        pytest.skip("rabbitmq-server is not installed here; the shared broker is not restarted by this suite")
    node = RabbitProcess(str(tmp_path / "rabbit"))
    node.start()
    yield node
    node.stop()


async def _publish(url: str, outcome: RunFinishedV1) -> None:
    """Publish with confirms, retrying while the restarted node is not ready to take it (nack, refused)."""
    for _ in range(60):
        try:
            connection = await aio_pika.connect(url, timeout=5)
            async with connection:
                channel = await connection.channel(publisher_confirms=True)
                exchange = await channel.get_exchange(Topology(os.environ["ECHO_BROKER_NAMESPACE"]).runs_exchange)
                message = aio_pika.Message(outcome.to_bytes(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
                await exchange.publish(message, RUN_FINISHED_KEY)
                return
        except Exception:
            await asyncio.sleep(0.5)
    raise AssertionError("the restarted broker never took the message")


async def _wait_for(client: httpx.AsyncClient, headers: dict[str, str], sid: object, count: int) -> list[str]:
    for _ in range(900):  # up to 45 s: reconnect, quorum queue recovery, the consumer watch
        session = (await client.get(f"/sessions/{sid}", headers=headers)).json()
        if session["message_count"] >= count:
            break
        await asyncio.sleep(0.05)
    return [m["content"] for m in session["messages"]]


async def test_consumer_resumes_after_a_broker_restart(database_url: str, rabbit: RabbitProcess) -> None:
    user = uuid.uuid4()
    headers = headers_for(user)

    def outcome(sid: object, output: str) -> RunFinishedV1:
        return RunFinishedV1(
            run_id=uuid.uuid4(),
            workflow_id=uuid.uuid4(),
            user_id=user,
            session_id=uuid.UUID(str(sid)),
            status="completed",
            output=output,
            finished_at=datetime.now(UTC),
        )

    print("A", flush=True)
    async with app_with_env(ECHO_AMQP_URL=rabbit.url) as client:
        print("B", flush=True)
        sid = (await new_session(client, headers))["session_id"]
        print("C", flush=True)
        await asyncio.wait_for(_publish(rabbit.url, outcome(sid, "before")), 30)
        print("D", flush=True)
        assert await _wait_for(client, headers, sid, 1) == ["before"]
        print("E", flush=True)

        expected = ["before"]
        for restart in range(2):
            print("F", flush=True)
            rabbit.stop()
            rabbit.start()
            print("G", flush=True)
            # Published as soon as the node takes it, possibly before the service has reconnected: it waits in
            # the durable queue.
            await _publish(rabbit.url, outcome(sid, f"after restart {restart}"))
            expected.append(f"after restart {restart}")
            assert await _wait_for(client, headers, sid, len(expected)) == expected
