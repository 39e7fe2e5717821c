"""How the run-outcome consumer settles a delivery, with stand-ins for the delivery and the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from services.session import consumer
from shared.messaging.messages import RunFinishedV1, RunRequestV1


class Delivery:
    def __init__(self, body: bytes, deliveries: int = 1):
        self.body = body
        self.headers = {"x-delivery-count": deliveries - 1} if deliveries > 1 else {}
        self.settled: list[str] = []

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nack(self, requeue: bool = True) -> None:
        self.settled.append(f"nack requeue={requeue}")

    async def reject(self, requeue: bool = False) -> None:
        self.settled.append(f"reject requeue={requeue}")


class Db:
    def __init__(self, error: BaseException | None = None, version: int | None = 2):
        self.error = error
        self.version = version
        self.info: dict[str, Any] = {}
        self.committed = False
        self.statements: list[dict[str, Any]] = []

    async def __aenter__(self) -> Db:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def execute(self, stmt: Any, params: dict[str, Any]) -> Any:
        if self.error is not None:
            raise self.error
        self.statements.append(params)
        version = self.version

        class Result:
            def scalar_one_or_none(self) -> int | None:
                return version

        return Result()

    async def commit(self) -> None:
        self.committed = True

    async def rollback(self) -> None:
        self.committed = False


class Cache:
    enabled = False
    available = False


def _body(**kw: Any) -> bytes:
    data: dict[str, Any] = {
        "run_id": uuid.uuid4(),
        "workflow_id": uuid.uuid4(),
        "user_id": uuid.uuid4(),
        "session_id": uuid.uuid4(),
        "status": "completed",
        "output": "done",
        "finished_at": datetime.now(UTC),
    }
    data.update(kw)
    return RunFinishedV1.model_validate(data).to_bytes()


@pytest.fixture(autouse=True)
def _no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer, "RETRY_DELAY_SECONDS", 0)


async def _handle(delivery: Delivery, db: Db) -> None:
    await consumer.handle(lambda: db, Cache(), delivery)  # type: ignore[arg-type]


async def test_stored_then_acked_after_commit() -> None:
    db, delivery = Db(), Delivery(_body(output="hello"))
    await _handle(delivery, db)
    assert delivery.settled == ["ack"] and db.committed
    assert db.statements[-1]["role"] == "assistant" and db.statements[-1]["content"] == "hello"


@pytest.mark.parametrize(
    ("status", "error", "content"),
    [("failed", "boom", "The run failed: boom"), ("failed", None, "The run failed: no reason was given")],
)
async def test_failures_become_system_messages(status: str, error: str | None, content: str) -> None:
    db = Db()
    await _handle(Delivery(_body(status=status, output=None, error=error)), db)
    assert (db.statements[-1]["role"], db.statements[-1]["content"]) == ("system", content)


async def test_huge_output_is_cut_and_nul_removed() -> None:
    db = Db()
    await _handle(Delivery(_body(output="a\u0000" + "x" * (consumer_limit() + 10))), db)
    stored = db.statements[-1]["content"]
    assert "\x00" not in stored and stored.endswith("[truncated]")
    assert len(stored.encode()) <= consumer_limit() + 20


def consumer_limit() -> int:
    from services.session.service import MAX_RUN_OUTPUT_BYTES

    return MAX_RUN_OUTPUT_BYTES


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"kind": "run.finished"}',
        RunRequestV1(
            run_id=uuid.uuid4(),
            workflow_id=uuid.uuid4(),
            user_id=uuid.uuid4(),
            definition={},
            requested_at=datetime.now(UTC),
        ).to_bytes(),
    ],
)
async def test_unreadable_or_foreign_bodies_are_rejected_for_good(body: bytes) -> None:
    delivery = Delivery(body)
    await _handle(delivery, Db())
    assert delivery.settled == ["reject requeue=False"]


async def test_no_session_is_acked_without_a_query() -> None:
    db, delivery = Db(), Delivery(_body(session_id=None))
    await _handle(delivery, db)
    assert delivery.settled == ["ack"] and db.statements == []


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        sa_exc.OperationalError("SELECT", {}, Exception("server closed the connection")),
        sa_exc.InterfaceError("SELECT", {}, Exception("connection is closed")),
    ],
)
async def test_outages_requeue_whatever_the_delivery_count(error: BaseException) -> None:
    delivery = Delivery(_body(), deliveries=50)
    await _handle(delivery, Db(error=error))
    assert delivery.settled == ["nack requeue=True"]


async def test_other_errors_are_retried_a_few_times_then_dropped() -> None:
    error = sa_exc.DataError("INSERT", {}, Exception("invalid input"))
    first = Delivery(_body())
    await _handle(first, Db(error=error))
    assert first.settled == ["nack requeue=True"]
    last = Delivery(_body(), deliveries=consumer.MAX_DELIVERIES_ON_ERROR)
    await _handle(last, Db(error=error))
    assert last.settled == ["reject requeue=False"]


def test_sqlstate_classification() -> None:
    class PgError(Exception):
        def __init__(self, sqlstate: str):
            self.sqlstate = sqlstate

    def wrapped(state: str) -> BaseException:
        return sa_exc.DBAPIError("SELECT", {}, PgError(state))

    assert consumer.is_transient(wrapped("57P01"))  # admin shutdown
    assert consumer.is_transient(wrapped("40P01"))  # deadlock
    assert consumer.is_transient(wrapped("08006"))  # connection failure
    assert not consumer.is_transient(wrapped("22P02"))  # invalid text representation
    assert not consumer.is_transient(ValueError("x"))


class WatchedQueue:
    def __init__(self, consumers: int):
        self.declaration_result = type("Declared", (), {"consumer_count": consumers})()


class WatchedChannel:
    def __init__(self, broker: WatchedBroker):
        self.broker = broker

    async def declare_queue(self, name: str, passive: bool = False) -> WatchedQueue:
        assert passive and name == "q"
        if self.broker.fail:
            raise ConnectionError("queue not ready")
        return WatchedQueue(self.broker.consumers)

    async def close(self) -> None:
        self.broker.closed_channels += 1


class WatchedBroker:
    def __init__(self) -> None:
        self.connected = True
        self.consumers = 1
        self.fail = False
        self.closed_channels = 0
        self.connection = self

    async def channel(self) -> WatchedChannel:
        return WatchedChannel(self)


async def test_watch_subscribes_again_when_the_queue_lost_its_consumer(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.setattr(consumer, "WATCH_INTERVAL_SECONDS", 0.01)
    broker = WatchedBroker()
    subscribed: list[int] = []

    async def subscribe() -> None:
        subscribed.append(1)
        broker.consumers = 1

    task = asyncio.create_task(consumer._watch(broker, "q", subscribe))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.05)
        assert subscribed == []  # a consumer is there: nothing to do
        broker.connected = False
        broker.consumers = 0
        await asyncio.sleep(0.05)
        assert subscribed == []  # disconnected: the robust connection is on it
        broker.connected, broker.fail = True, True
        await asyncio.sleep(0.05)
        assert subscribed == []  # the queue is not back yet: try later, do not crash
        broker.fail = False
        await asyncio.sleep(0.05)
        assert subscribed == [1]  # lost for good: subscribed again, once
        assert broker.closed_channels > 0
    finally:
        task.cancel()
