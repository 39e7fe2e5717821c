"""The executor's broker side: run requests (bounded prefetch, ack only once the run is settled), the dead-letter
queue (runs that killed their executor too often end `failed`) and the control exchange (cancel nudges)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from pydantic import ValidationError

from services.executor.runtime.runner import Runner
from shared.errors import ServiceUnavailable
from shared.messaging import (
    Broker,
    RunControlV1,
    RunQueuedV1,
    RunRequestV1,
    death_reason,
    decode_message,
    delivery_attempt,
    settle,
)
from shared.messaging.topology import MAX_DELIVERIES, RUN_REQUESTS_KEY

log = logging.getLogger("echoai.executor.consumer")

RETRY_PAUSE = 1.0  # before handing back a request we could not process (database away): no hot loop


class Consumers:
    def __init__(self, broker: Broker, runner: Runner, *, concurrency: int):
        self.broker = broker
        self.runner = runner
        self.concurrency = concurrency
        self.started = asyncio.Event()
        self.stopping = False
        self._requests: AbstractQueue | None = None
        self._inflight: dict[asyncio.Task[Any], tuple[AbstractIncomingMessage, RunRequestV1 | RunQueuedV1]] = {}

    async def start(self) -> None:
        topo = self.broker.topology
        # Import CrewAI off the event loop before taking work: the API keeps answering meanwhile.
        await asyncio.to_thread(lambda: self.runner.step_fn)
        control_queue = f"{topo.control_exchange}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        await self.broker.consume(
            control_queue, self._on_control, prefetch=50, exclusive=True, bindings=((topo.control_exchange, ""),)
        )
        await self.broker.consume(
            topo.run_requests_dead.name, self._on_dead, prefetch=4, arguments=topo.run_requests_dead.arguments
        )
        self._requests = await self.broker.consume(
            topo.run_requests.name, self._on_request, prefetch=self.concurrency, arguments=topo.run_requests.arguments
        )
        self.started.set()
        log.info("consuming run requests (concurrency %d)", self.concurrency)

    async def _on_request(self, message: AbstractIncomingMessage) -> None:
        try:
            request = decode_message(message.body)
        except ValidationError:
            log.error("unreadable run request dead-lettered: %r", message.body[:200])
            await settle(message, "reject")
            return
        if not isinstance(request, RunRequestV1 | RunQueuedV1):
            await settle(message, "reject")
            return
        if self.stopping:
            return  # left unacked: the broker hands it to another executor when this connection closes
        attempt = delivery_attempt(message)
        task = asyncio.current_task()
        assert task is not None
        self._inflight[task] = (message, request)
        try:
            outcome = await self.runner.handle(request, attempt)
        except asyncio.CancelledError:
            raise  # shutting down: stop() hands the request on
        except Exception as exc:
            log.exception("run %s (attempt %d/%d) could not be processed", request.run_id, attempt, MAX_DELIVERIES)
            await self.runner.note_error(request.run_id, exc)
            await asyncio.sleep(RETRY_PAUSE)
            await settle(message, "requeue")
            return
        finally:
            self._inflight.pop(task, None)
        log.info("run %s: %s (attempt %d)", request.run_id, outcome, attempt)
        if outcome == "unannounced":
            # The session must still learn the answer: back to the queue, and the next delivery re-sends it.
            await asyncio.sleep(RETRY_PAUSE)
            await settle(message, "requeue")
            return
        await settle(message)

    async def _on_dead(self, message: AbstractIncomingMessage) -> None:
        try:
            request = decode_message(message.body)
        except ValidationError:
            await settle(message)
            return
        if isinstance(request, RunRequestV1 | RunQueuedV1):
            try:
                await self.runner.dead_lettered(request, death_reason(message), MAX_DELIVERIES)
            except Exception:
                log.exception("could not mark dead-lettered run %s failed", request.run_id)
                await asyncio.sleep(RETRY_PAUSE)
                await settle(message, "requeue")
                return
        await settle(message)

    async def _on_control(self, message: AbstractIncomingMessage) -> None:
        with contextlib.suppress(ValidationError):
            control: Any = decode_message(message.body)
            if isinstance(control, RunControlV1) and control.action == "cancel":
                self.runner.note_cancel(control.run_id)
        await settle(message)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the runs in flight and hand each back to the queue as a fresh copy (then ack the delivery): another
        executor resumes it after its last finished step, and a deploy does not count as a failed delivery (three
        of those would dead-letter a healthy run). Without the broker, the unacked deliveries come back anyway."""
        self.stopping = True
        if self._requests is not None:
            # First no new deliveries, or the copies handed back below would come straight back to us.
            await self.broker.cancel_consumer(self._requests)
        inflight = dict(self._inflight)
        for task in inflight:
            task.cancel()
        if inflight:
            await asyncio.wait(inflight, timeout=grace)
        topo = self.broker.topology
        for message, request in inflight.values():
            try:
                await self.broker.publish(topo.runs_exchange, RUN_REQUESTS_KEY, request, mandatory=True, timeout=2.0)
            except ServiceUnavailable:
                continue
            await settle(message)
            log.info("run %s handed back to the queue", request.run_id)
