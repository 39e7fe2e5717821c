"""The slow-client policy and the replay-then-live handover, with in-memory sockets."""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid

import pytest
from aiohttp import web

from services.gateway.fanout.hub import Hub
from services.gateway.fanout.stream import pump
from shared.auth import CurrentUser
from shared.settings import Settings
from tests.support.stand_in import serving
from tests.unit.gateway.events import event

USER = uuid.uuid4()


class Socket:
    """Collects what is sent; `stuck` makes every send hang like a client that stopped reading."""

    def __init__(self, stuck: bool = False) -> None:
        self.sent: list[int] = []
        self.stuck = stuck

    async def send_text(self, text: str) -> None:
        if self.stuck:
            await asyncio.Event().wait()
        self.sent.append(json.loads(text)["seq"])


@pytest.fixture
async def hub() -> Hub:
    settings = Settings(ws_client_queue_size=5, step_ttl_seconds=60)
    h = Hub(settings, broker=None, http=None)  # type: ignore[arg-type]
    h.idle_check_seconds = 60
    return h


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_consumer_path_never_awaits(hub: Hub) -> None:
    assert not inspect.iscoroutinefunction(hub.dispatch)
    assert not inspect.iscoroutinefunction(hub.subscribe(uuid.uuid4(), USER).offer)


async def test_slow_client_is_dropped_and_fast_client_gets_everything(hub: Hub) -> None:
    run, user = uuid.uuid4(), CurrentUser(USER)
    fast_sock, slow_sock = Socket(), Socket(stuck=True)
    fast, slow = hub.subscribe(run, USER), hub.subscribe(run, USER)
    fast.sender = asyncio.create_task(pump(fast_sock, hub, fast, user, [], 0))  # type: ignore[arg-type]
    slow.sender = asyncio.create_task(pump(slow_sock, hub, slow, user, [], 0))  # type: ignore[arg-type]
    for seq in range(1, 41):
        hub.dispatch(event(run, USER, seq))
        if seq % 4 == 0:
            await settle()  # the fast client's sender gets its turn, as on a real loop
    hub.dispatch(event(run, USER, 41, "run_completed"))
    assert await asyncio.wait_for(fast.sender, 2) == (1000, "run finished")
    assert fast_sock.sent == list(range(1, 42))
    # The slow one overflowed its 5 places: marked 1013 and its sender cancelled, not awaited.
    assert slow.close_code == 1013
    await settle()
    assert slow.sender.cancelled()
    assert slow_sock.sent == [] and len(slow.queue) == 0


async def test_replay_then_live_has_no_gap_and_no_duplicate(hub: Hub) -> None:
    run, user = uuid.uuid4(), CurrentUser(USER)
    for seq in range(1, 6):
        hub.dispatch(event(run, USER, seq))
    sub = hub.subscribe(run, USER)
    sub.maxsize = 100
    state = hub.registry.get(run)
    assert state is not None
    replay = state.events_after(2)
    # Live events overlap the snapshot (seq 5 is in both) and keep coming while the replay is sent.
    sub.offer(replay[-1])
    sock = Socket()
    task = asyncio.create_task(pump(sock, hub, sub, user, replay, 2))  # type: ignore[arg-type]
    for seq in range(6, 9):
        hub.dispatch(event(run, USER, seq))
    hub.dispatch(event(run, USER, 8))  # a duplicate delivery
    hub.dispatch(event(run, USER, 9, "run_failed", error="x"))
    hub.dispatch(event(run, USER, 10))  # after the terminal event: never sent
    assert await asyncio.wait_for(task, 2) == (1000, "run finished")
    assert sock.sent == [3, 4, 5, 6, 7, 8, 9]


async def test_replay_of_a_finished_run_stops_at_the_terminal_event(hub: Hub) -> None:
    run, user = uuid.uuid4(), CurrentUser(USER)
    hub.dispatch(event(run, USER, 1, "run_started"))
    hub.dispatch(event(run, USER, 2, "run_completed"))
    state = hub.registry.get(run)
    assert state is not None
    sock = Socket()
    sub = hub.subscribe(run, USER)
    assert await pump(sock, hub, sub, user, state.events_after(0), 0) == (1000, "run finished")  # type: ignore[arg-type]
    assert sock.sent == [1, 2]


async def test_an_event_of_another_user_closes_with_1008(hub: Hub) -> None:
    run = uuid.uuid4()
    sub = hub.subscribe(run, USER)
    sock = Socket()
    sub.sender = asyncio.create_task(pump(sock, hub, sub, CurrentUser(USER), [], 0))  # type: ignore[arg-type]
    await settle()
    hub.dispatch(event(run, uuid.uuid4(), 1))
    await settle()
    assert sub.close_code == 1008 and sock.sent == []


async def test_unsubscribed_clients_get_nothing_and_shutdown_drops_everyone(hub: Hub) -> None:
    run = uuid.uuid4()
    a, b = hub.subscribe(run, USER), hub.subscribe(run, USER)
    hub.unsubscribe(a)
    hub.dispatch(event(run, USER, 1))
    assert len(a.queue) == 0 and len(b.queue) == 1
    await hub.close()
    assert b.close_code == 1001


def test_limits_come_from_the_settings() -> None:
    s = Settings(
        step_ttl_seconds=7,
        step_buffer_events=3,
        step_max_runs=4,
        step_buffer_max_bytes=5,
        ws_client_queue_size=6,
        ws_auth_timeout_seconds=0.25,
    )
    h = Hub(s, broker=None, http=None)  # type: ignore[arg-type]
    reg = h.registry
    assert (reg.ttl, reg.max_events_per_run, reg.max_runs, reg.max_bytes) == (7, 3, 4, 5)
    assert (h.client_queue_size, h.auth_timeout) == (6, 0.25)


async def test_a_quiet_run_that_ended_unseen_is_closed_1000() -> None:
    """The terminal event is not persistent and may be lost; the executor's word ends a quiet connection."""
    statuses = iter(["running", "completed"])

    def executor(request: web.Request) -> web.Response:
        run_id = request.path.rsplit("/", 1)[-1]
        return web.json_response({"run_id": run_id, "status": next(statuses)})

    async with serving(executor) as (http, url):
        h = Hub(Settings(executor_url=url), broker=None, http=http)  # type: ignore[arg-type]
        h.idle_check_seconds = 0.05
        run = uuid.uuid4()
        h.dispatch(event(run, USER, 1, "run_started"))
        sub, sock = h.subscribe(run, USER), Socket()
        result = await asyncio.wait_for(pump(sock, h, sub, CurrentUser(USER), [], 1), 5)  # type: ignore[arg-type]
    assert result == (1000, "run finished")
    assert next(statuses, None) is None  # asked twice: still running, then completed


class Delivery:
    """A consumed message: its body, and the acks asked of it."""

    def __init__(self, body: bytes, acks: list[tuple[int, bool]], tag: int) -> None:
        self.body, self.acks, self.tag = body, acks, tag

    async def ack(self, multiple: bool = False) -> None:
        self.acks.append((self.tag, multiple))


async def test_deliveries_are_acked_in_batches_and_a_quiet_stream_is_acked_soon(hub: Hub) -> None:
    # ws_client_queue_size=5: a prefetch of 2, so a batch of 1 (every delivery acked at once).
    assert (hub.prefetch, hub.ack_batch) == (2, 1)
    settings = Settings(ws_client_queue_size=64, step_ttl_seconds=60)
    wide = Hub(settings, broker=None, http=None)  # type: ignore[arg-type]
    assert (wide.prefetch, wide.ack_batch) == (32, 8)
    run, acks = uuid.uuid4(), []
    for seq in range(1, 20):
        body = event(run, USER, seq).model_dump_json().encode()
        await wide.on_message(Delivery(body, acks, seq))  # type: ignore[arg-type]
    # Every event was folded in at once; the acks covered 8 and 16, each settling everything before it.
    assert wide.registry.get(run).last_seq == 19  # type: ignore[union-attr]
    assert acks == [(8, True), (16, True)]
    await asyncio.sleep(wide.ack_delay * 3)
    assert acks == [(8, True), (16, True), (19, True)]
    await wide.close()
