"""Run outcomes through the real broker into the chat history: once per run, however often delivered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import aio_pika
import httpx
import pytest

from shared.messaging.messages import RunFinishedV1
from shared.messaging.topology import RUN_FINISHED_KEY, Topology
from tests.integration.session.conftest import new_session
from tests.integration.session.support import app_with_env
from tests.support.auth import headers_for
from tests.support.platform import free_port

pytestmark = pytest.mark.integration

# A namespace of this module's own, so no other session service of the test run takes these deliveries.
_SUFFIX = f"outcomes-{uuid.uuid4().hex[:6]}"


def outcomes_namespace() -> str:
    # Read when a test runs: the `servers` fixture sets the run's namespace.
    return f"{os.environ['ECHO_BROKER_NAMESPACE']}.{_SUFFIX}"


@pytest.fixture(scope="module")
async def outcomes_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    try:
        async with app_with_env(ECHO_BROKER_NAMESPACE=outcomes_namespace()) as client:
            yield client
    finally:
        await _delete_namespace(outcomes_namespace())


async def _delete_namespace(namespace: str) -> None:
    topo = Topology(namespace)
    conn = await aio_pika.connect(os.environ["ECHO_AMQP_URL"])
    async with conn:
        for spec in topo.durable_queues:
            channel = await conn.channel()
            await channel.queue_delete(spec.name)
        for ex in topo.exchanges:
            channel = await conn.channel()
            await channel.exchange_delete(ex.name)


@contextlib.contextmanager
def _records(logger: str) -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger(logger).addHandler(handler)
    try:
        yield records
    finally:
        logging.getLogger(logger).removeHandler(handler)


async def _ready_messages(namespace: str | None = None) -> int:
    namespace = namespace or outcomes_namespace()
    conn = await aio_pika.connect(os.environ["ECHO_AMQP_URL"])
    async with conn:
        channel = await conn.channel()
        queue = await channel.declare_queue(Topology(namespace).session_run_finished.name, passive=True)
        return int(queue.declaration_result.message_count or 0)


def _outcome(user_id: uuid.UUID, session_id: object, **kw: object) -> RunFinishedV1:
    body: dict[str, object] = {
        "run_id": uuid.uuid4(),
        "workflow_id": uuid.uuid4(),
        "user_id": user_id,
        "session_id": session_id,
        "status": "completed",
        "output": "The answer.",
        "finished_at": datetime.now(UTC),
    }
    body.update(kw)
    return RunFinishedV1.model_validate(body)


async def _publish(client: httpx.AsyncClient, message: RunFinishedV1 | bytes) -> None:
    broker = client.app.state.broker  # type: ignore[attr-defined]
    if isinstance(message, bytes):
        channel = await broker.connection.channel()
        exchange = await channel.get_exchange(broker.topology.runs_exchange)
        await exchange.publish(
            aio_pika.Message(message, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), RUN_FINISHED_KEY
        )
        await channel.close()
        return
    await broker.publish(broker.topology.runs_exchange, RUN_FINISHED_KEY, message)


async def _messages_when(
    client: httpx.AsyncClient, headers: dict[str, str], sid: object, count: int, timeout: float = 15
) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        session = (await client.get(f"/sessions/{sid}", headers=headers)).json()
        if session["message_count"] >= count or asyncio.get_running_loop().time() > deadline:
            return session  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)


async def _settled() -> None:
    """Give any further (duplicate) delivery time to be processed."""
    for _ in range(100):
        if await _ready_messages() == 0:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)


async def test_completed_run_appends_the_answer_once(outcomes_client: httpx.AsyncClient) -> None:
    user = uuid.uuid4()
    headers = headers_for(user)
    sid = (await new_session(outcomes_client, headers))["session_id"]
    outcome = _outcome(user, sid, output="Tides are caused by the moon.")
    await _publish(outcomes_client, outcome)
    await _publish(outcomes_client, outcome)  # a redelivery, as RabbitMQ may do
    session = await _messages_when(outcomes_client, headers, sid, 1)
    await _settled()
    session = (await outcomes_client.get(f"/sessions/{sid}", headers=headers)).json()
    assistant = [m for m in session["messages"] if m["run_id"] == str(outcome.run_id)]
    assert len(assistant) == 1, session["messages"]
    assert assistant[0]["role"] == "assistant" and assistant[0]["content"] == "Tides are caused by the moon."
    assert assistant[0]["metadata"]["status"] == "completed"
    assert session["run_ids"] == [str(outcome.run_id)]
    assert session["message_count"] == 1


async def test_concurrent_duplicates_land_once(outcomes_client: httpx.AsyncClient) -> None:
    user = uuid.uuid4()
    headers = headers_for(user)
    sid = (await new_session(outcomes_client, headers))["session_id"]
    await outcomes_client.post(f"/sessions/{sid}/messages", json={"role": "user", "content": "q"}, headers=headers)
    outcomes = [_outcome(user, sid, output=f"answer {i}") for i in range(5)]
    await asyncio.gather(*(_publish(outcomes_client, o) for o in outcomes for _ in range(4)))
    await _messages_when(outcomes_client, headers, sid, 6)
    await _settled()
    session = (await outcomes_client.get(f"/sessions/{sid}", headers=headers)).json()
    assert session["message_count"] == 6
    assert [m["seq"] for m in session["messages"]] == [1, 2, 3, 4, 5, 6]
    assert sorted(m["content"] for m in session["messages"][1:]) == sorted(f"answer {i}" for i in range(5))
    assert sorted(session["run_ids"]) == sorted(str(o.run_id) for o in outcomes)


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("failed", "the model timed out", "The run failed: the model timed out"),
        ("cancelled", None, "The run was cancelled."),
        ("cancelled", "stopped by the user", "The run was cancelled: stopped by the user"),
    ],
)
async def test_failed_and_cancelled_runs_leave_a_system_message(
    outcomes_client: httpx.AsyncClient, status: str, error: str | None, expected: str
) -> None:
    user = uuid.uuid4()
    headers = headers_for(user)
    sid = (await new_session(outcomes_client, headers))["session_id"]
    outcome = _outcome(user, sid, status=status, output=None, error=error)
    for _ in range(2):
        await _publish(outcomes_client, outcome)
    await _messages_when(outcomes_client, headers, sid, 1)
    await _settled()
    session = (await outcomes_client.get(f"/sessions/{sid}", headers=headers)).json()
    assert [(m["role"], m["content"], m["run_id"]) for m in session["messages"]] == [
        ("system", expected, str(outcome.run_id))
    ]
    assert session["run_ids"] == [str(outcome.run_id)]


async def test_unreadable_and_foreign_outcomes_are_dropped(outcomes_client: httpx.AsyncClient) -> None:
    user = uuid.uuid4()
    headers = headers_for(user)
    sid = (await new_session(outcomes_client, headers))["session_id"]
    stranger_session = (await new_session(outcomes_client, headers_for(uuid.uuid4())))["session_id"]
    with _records("echoai.session.consumer") as records:
        await _publish(outcomes_client, b"{not json")
        await _publish(outcomes_client, b'{"kind": "run.finished", "version": 1}')
        # Another user's session, and a session that does not exist: nothing to do, acknowledged.
        await _publish(outcomes_client, _outcome(user, stranger_session))
        await _publish(outcomes_client, _outcome(user, uuid.uuid4()))
        await _publish(outcomes_client, _outcome(user, None))
        await _publish(outcomes_client, _outcome(user, sid, output="kept"))
        session = await _messages_when(outcomes_client, headers, sid, 1)
        await _settled()
    assert [m["content"] for m in session["messages"]] == ["kept"]
    rejected = [r for r in records if "cannot be read" in r.getMessage()]
    assert len(rejected) == 2
    assert await _ready_messages() == 0
    other = (await outcomes_client.get(f"/sessions/{stranger_session}", headers=headers)).status_code
    assert other == 404


async def test_database_outage_requeues_then_stores(outcomes_client: httpx.AsyncClient) -> None:
    """While PostgreSQL is unreachable the delivery goes back to the queue; nothing is lost."""
    user = uuid.uuid4()
    headers = headers_for(user)
    sid = (await new_session(outcomes_client, headers))["session_id"]
    outcome = _outcome(user, sid, output="survived the outage")
    # This module's app consumes the same queue: stop it from taking the delivery by using another namespace.
    namespace = f"{outcomes_namespace()}.dbdown"
    dead_db = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    try:
        # Building an app reconfigures the root logger (dropping caplog's handler): listen on the logger itself.
        with _records("echoai.session.consumer") as records:
            async with app_with_env(ECHO_BROKER_NAMESPACE=namespace, ECHO_DATABASE_URL=dead_db) as broken:
                await _publish(broken, outcome)
                await asyncio.sleep(2.5)  # a couple of failed attempts, each requeued
        attempts = [r for r in records if "back to the queue" in r.getMessage()]
        assert len(attempts) >= 2
        assert await _ready_messages(namespace) == 1
        async with app_with_env(ECHO_BROKER_NAMESPACE=namespace) as healthy:
            session = await _messages_when(healthy, headers, sid, 1)
            await asyncio.sleep(0.5)
            session = (await healthy.get(f"/sessions/{sid}", headers=headers)).json()
    finally:
        await _delete_namespace(namespace)
    assert [(m["role"], m["content"]) for m in session["messages"]] == [("assistant", "survived the outage")]
