"""Step events that got a seq are never dropped: a refused publish is held back and retried in seq order."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from services.executor import events as events_module
from services.executor.events import RunEvents
from shared.errors import ServiceUnavailable
from shared.messaging import StepEventV1
from shared.messaging.topology import Topology


class FlakyBroker:
    """Refuses every publish while `down`; records what it took."""

    def __init__(self) -> None:
        self.topology = Topology("unit")
        self.down = False
        self.taken: list[StepEventV1] = []

    @property
    def connected(self) -> bool:
        return not self.down

    async def publish(self, exchange: str, routing_key: str, message: Any, **_: Any) -> None:
        if self.down:
            raise ServiceUnavailable("away", error="broker_unavailable")
        self.taken.append(message)


@pytest.fixture
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "RETRY_FIRST", 0.01)
    monkeypatch.setattr(events_module, "RETRY_MAX", 0.02)


async def until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.mark.usefixtures("quick_retry")
async def test_refused_events_are_held_and_published_later_in_seq_order() -> None:
    broker = FlakyBroker()
    events = RunEvents(broker, None, enabled=True)  # type: ignore[arg-type]
    run, other, user = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await events.publish(run, user, "run_started", 1)
    broker.down = True
    await events.publish(run, user, "step_started", 2)
    broker.down = False
    # The broker is back, but seq 3 must not overtake the held-back seq 2.
    await events.publish(run, user, "step_completed", 3)
    await events.publish(other, user, "run_started", 1)  # another run is not held up
    assert [(e.run_id, e.seq) for e in broker.taken] == [(run, 1), (other, 1)]
    assert events.held_back(run) == 2
    await until(lambda: events.held_back() == 0)
    assert [e.seq for e in broker.taken if e.run_id == run] == [1, 2, 3]
    await events.close()


@pytest.mark.usefixtures("quick_retry")
async def test_held_events_wait_for_the_broker_however_long_it_is_away() -> None:
    broker = FlakyBroker()
    events = RunEvents(broker, None, enabled=True)  # type: ignore[arg-type]
    run, user = uuid.uuid4(), uuid.uuid4()
    broker.down = True
    for seq in (1, 2, 3):
        await events.publish(run, user, "step_output", seq)
    await asyncio.sleep(0.1)  # several retries fail
    assert broker.taken == [] and events.held_back(run) == 3
    broker.down = False
    await until(lambda: events.held_back() == 0)
    assert [e.seq for e in broker.taken] == [1, 2, 3]
    await events.close()


async def test_close_makes_a_last_attempt() -> None:
    broker = FlakyBroker()
    events = RunEvents(broker, None, enabled=True)  # type: ignore[arg-type]
    run, user = uuid.uuid4(), uuid.uuid4()
    broker.down = True
    await events.publish(run, user, "run_started", 1)
    broker.down = False
    await events.close()
    assert [e.seq for e in broker.taken] == [1] and events.held_back() == 0
