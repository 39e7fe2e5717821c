"""The fan-out: one exclusive queue per gateway replica, bound to every run's events, feeding per-client queues.

The consumer callback never awaits a client: it folds the event into the registry and offers it to each
subscriber's bounded queue. A subscriber whose queue is full is dropped (close 1013), and its sender task
cancelled, so one slow socket never slows the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Iterator
from typing import Any

import aiohttp
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from services.gateway.clients import ExecutorRuns
from services.gateway.fanout.state import BufferedEvent, RunRegistry
from services.gateway.metrics import WS_EVENTS_DROPPED
from shared.messaging import Broker, StepEventV1
from shared.settings import Settings

log = logging.getLogger("echoai.gateway.fanout")

CLOSE_TOO_SLOW = 1013
CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
_GOING_AWAY = "the gateway is shutting down; reconnect with after_seq"
_DROP_REASONS = {CLOSE_TOO_SLOW: "too_slow", CLOSE_GOING_AWAY: "shutdown", CLOSE_POLICY: "refused"}


class Subscriber:
    """One WebSocket's view of one run: a bounded queue filled by the consumer, drained by its sender task."""

    def __init__(self, run_id: uuid.UUID, user_id: uuid.UUID, maxsize: int):
        self.run_id = run_id
        self.user_id = user_id
        self.maxsize = maxsize
        self.queue: deque[BufferedEvent] = deque()
        self.wake = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self.sender: asyncio.Task[Any] | None = None

    def offer(self, event: BufferedEvent) -> None:
        """Called from the consumer callback: never blocks, never awaits."""
        if self.close_code is not None:
            return
        if len(self.queue) >= self.maxsize:
            WS_EVENTS_DROPPED.labels("too_slow").inc()  # this one; drop() counts the queued ones
            self.drop(CLOSE_TOO_SLOW, "client too slow: its event queue is full; reconnect with after_seq")
            return
        self.queue.append(event)
        self.wake.set()

    def drop(self, code: int, reason: str) -> None:
        if self.close_code is not None:
            return
        self.close_code, self.close_reason = code, reason
        if self.queue:
            WS_EVENTS_DROPPED.labels(_DROP_REASONS.get(code, "refused")).inc(len(self.queue))
        self.queue.clear()
        self.wake.set()
        if self.sender is not None and not self.sender.done():
            self.sender.cancel()

    async def next_event(self, idle: float | None) -> BufferedEvent | None:
        """The next queued event; None after `idle` seconds without one, or once dropped."""
        while not self.queue and self.close_code is None:
            self.wake.clear()
            try:
                async with asyncio.timeout(idle):  # no extra task per wait, unlike wait_for
                    await self.wake.wait()
            except TimeoutError:
                return None
        if self.close_code is not None:
            return None
        return self.queue.popleft()


class Hub:
    def __init__(self, settings: Settings, broker: Broker, http: aiohttp.ClientSession):
        self.broker = broker
        self.registry = RunRegistry(
            ttl=settings.step_ttl_seconds,
            max_events_per_run=settings.step_buffer_events,
            max_runs=settings.step_max_runs,
            max_bytes=settings.step_buffer_max_bytes,
        )
        self.executor = ExecutorRuns(http, settings.service_url("executor"))
        self.client_queue_size = settings.ws_client_queue_size
        # A burst of deliveries is dispatched before any sender task runs again; keeping the unacked window
        # under half a client's queue means a burst alone never overflows a client that keeps up.
        self.prefetch = max(1, min(512, self.client_queue_size // 2))
        # Deliveries are acked in batches (see `_settle`): at most this many, or after this long.
        self.ack_batch = max(1, self.prefetch // 4)
        self.ack_delay = 0.02
        self._to_ack: AbstractIncomingMessage | None = None
        self._unacked = 0
        self._ack_timer: asyncio.TimerHandle | None = None
        self._acking: set[asyncio.Task[None]] = set()
        self.auth_timeout = settings.ws_auth_timeout_seconds
        self.close_timeout = 10.0  # how long a closing frame may wait for a slow client's socket
        self.idle_check_seconds = 30.0  # how often a quiet connection asks the executor whether the run ended
        self.ready = asyncio.Event()  # the consumer is bound
        self._subscribers: dict[uuid.UUID, set[Subscriber]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._started = False
        self._all_gone = asyncio.Event()  # set whenever the last subscriber leaves
        self.closing = False  # set on SIGTERM: open sockets are closed with 1001 and new ones turned away

    # -- consuming --------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind this replica's own queue; called once the broker is connected (robust: restored on reconnect)."""
        if self._started:
            return
        self._started = True
        await self.broker.consume(
            None,
            self.on_message,
            exclusive=True,
            prefetch=self.prefetch,
            bindings=((self.broker.topology.events_exchange, "run.#"),),
        )
        self.ready.set()
        log.info("consuming step events")

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = StepEventV1.model_validate_json(message.body)
        except ValidationError as exc:
            log.warning("dropping an unreadable step event (%s errors)", exc.error_count())
        else:
            self.dispatch(event)
        due = self._settle(message)
        if due is not None:
            await self._ack(due)

    def _settle(self, message: AbstractIncomingMessage) -> AbstractIncomingMessage | None:
        """Ack in batches: one ack with `multiple` settles every earlier delivery of the channel, and those were
        all dispatched already (each delivery's callback starts in order and dispatches before it first awaits).
        An ack frame per event, a socket write each, was the fan-out's largest single cost under load. The
        queue is exclusive to this replica, so an ack only frees the prefetch window; it keeps nothing durable.
        Returns the delivery to ack now, when the batch is full; a quiet stream is acked by a timer."""
        self._to_ack = message
        self._unacked += 1
        if self._unacked >= self.ack_batch:
            return self._take_due()
        if self._ack_timer is None:
            self._ack_timer = asyncio.get_running_loop().call_later(self.ack_delay, self._ack_later)
        return None

    def _take_due(self) -> AbstractIncomingMessage | None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        message, self._to_ack, self._unacked = self._to_ack, None, 0
        return message

    def _ack_later(self) -> None:
        self._ack_timer = None
        message = self._take_due()
        if message is not None:
            task = asyncio.create_task(self._ack(message))
            self._acking.add(task)
            task.add_done_callback(self._acking.discard)

    @staticmethod
    async def _ack(message: AbstractIncomingMessage) -> None:
        with contextlib.suppress(Exception):  # a delivery from before a reconnect cannot be acked; it is gone anyway
            await message.ack(multiple=True)

    def dispatch(self, event: StepEventV1) -> None:
        _, buffered = self.registry.apply(event)
        if buffered is None:
            return
        for sub in tuple(self._subscribers.get(event.run_id, ())):
            if sub.user_id != event.user_id:
                sub.drop(CLOSE_POLICY, "this run belongs to someone else")
            else:
                sub.offer(buffered)

    # -- subscribers ------------------------------------------------------------------------------------------

    def subscribe(self, run_id: uuid.UUID, user_id: uuid.UUID) -> Subscriber:
        sub = Subscriber(run_id, user_id, self.client_queue_size)
        self._subscribers.setdefault(run_id, set()).add(sub)
        if self.closing:
            sub.drop(CLOSE_GOING_AWAY, _GOING_AWAY)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._subscribers.get(sub.run_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.run_id]
        if not self._subscribers:
            self._all_gone.set()

    def subscribers(self) -> Iterator[Subscriber]:
        for subs in self._subscribers.values():
            yield from subs

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start_sweeper(self) -> None:
        interval = max(0.5, min(5.0, self.registry.ttl / 4))

        async def sweep() -> None:
            while True:
                await asyncio.sleep(interval)
                self.registry.sweep()

        self._sweeper = asyncio.create_task(sweep(), name="gateway-fanout-sweeper")

    async def going_away(self, timeout: float) -> None:
        """Close every open socket with 1001 (clients reconnect with after_seq, to another replica) and wait,
        at most `timeout` seconds, until their handlers have finished."""
        self.closing = True
        for sub in list(self.subscribers()):
            sub.drop(CLOSE_GOING_AWAY, _GOING_AWAY)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._subscribers:
                    self._all_gone.clear()
                    await self._all_gone.wait()

    async def close(self) -> None:
        self.closing = True
        self._take_due()  # no timer left behind; the deliveries it would have acked go with the channel
        for sub in list(self.subscribers()):
            sub.drop(CLOSE_GOING_AWAY, _GOING_AWAY)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
