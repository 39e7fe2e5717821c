"""The fan-out's counters: events written to clients, events a client never got (and why), and going away."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.gateway.fanout.hub import Hub
from services.gateway.fanout.stream import pump
from services.gateway.metrics import WS_EVENTS_DELIVERED, WS_EVENTS_DROPPED
from shared.auth import CurrentUser
from shared.settings import Settings
from tests.unit.gateway.events import event
from tests.unit.gateway.test_fanout_hub import Socket, settle

USER = uuid.uuid4()


@pytest.fixture
async def hub() -> Hub:
    h = Hub(Settings(ws_client_queue_size=5), broker=None, http=None)  # type: ignore[arg-type]
    h.idle_check_seconds = 60
    return h


def dropped(reason: str) -> float:
    return WS_EVENTS_DROPPED.labels(reason)._value.get()


async def test_delivered_counts_each_event_written(hub: Hub) -> None:
    run = uuid.uuid4()
    before = WS_EVENTS_DELIVERED._value.get()
    for seq in range(1, 4):
        hub.dispatch(event(run, USER, seq))
    state = hub.registry.get(run)
    assert state is not None
    sub = hub.subscribe(run, USER)
    task = asyncio.create_task(pump(Socket(), hub, sub, CurrentUser(USER), state.events_after(0), 0))  # type: ignore[arg-type]
    await settle()
    hub.dispatch(event(run, USER, 4))
    hub.dispatch(event(run, USER, 5, "run_completed"))
    assert await asyncio.wait_for(task, 2) == (1000, "run finished")
    assert WS_EVENTS_DELIVERED._value.get() - before == 5


async def test_overflow_counts_every_event_the_slow_client_lost(hub: Hub) -> None:
    run = uuid.uuid4()
    before = dropped("too_slow")
    sub = hub.subscribe(run, USER)  # no sender: nothing is taken off its queue
    for seq in range(1, 7):
        hub.dispatch(event(run, USER, seq))
    assert sub.close_code == 1013
    assert dropped("too_slow") - before == 6  # five queued, and the one that did not fit
    hub.dispatch(event(run, USER, 7))
    assert dropped("too_slow") - before == 6  # a closed client is not counted again


async def test_going_away_closes_everyone_with_1001_and_turns_new_clients_away(hub: Hub) -> None:
    run = uuid.uuid4()
    before = dropped("shutdown")
    subs = [hub.subscribe(run, USER) for _ in range(3)]
    hub.dispatch(event(run, USER, 1))
    leaving = asyncio.create_task(hub.going_away(timeout=5))
    await settle()
    assert all(s.close_code == 1001 for s in subs) and not leaving.done()
    assert dropped("shutdown") - before == 3  # each had one queued event
    late = hub.subscribe(run, USER)
    assert late.close_code == 1001
    for s in [*subs, late]:
        hub.unsubscribe(s)
    await asyncio.wait_for(leaving, 1)  # returns once the last handler has let go


async def test_going_away_waits_no_longer_than_its_timeout(hub: Hub) -> None:
    hub.subscribe(uuid.uuid4(), USER)  # a handler that never lets go
    await asyncio.wait_for(hub.going_away(timeout=0.2), 2)
