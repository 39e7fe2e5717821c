"""One robust aio-pika connection per process.

The first connection is retried in the background so a service starts (and reports `/health/broker` down)
while RabbitMQ is away; afterwards aio-pika's robust connection reconnects and restores channels, queues and
consumers. Publishes are bounded by a timeout because a robust channel otherwise waits for the reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from pydantic import BaseModel

from shared.errors import ServiceUnavailable
from shared.messaging import topology
from shared.metrics import BROKER_PUBLISH_FAILURES
from shared.settings import Settings

log = logging.getLogger("echoai.broker")

Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


class Broker:
    def __init__(self, settings: Settings, *, name: str):
        self.url = settings.amqp_url
        self.publish_timeout = settings.broker_publish_timeout_seconds
        self.name = name
        self.topology = topology.Topology(settings.broker_namespace)
        self.connection: AbstractRobustConnection | None = None
        self._confirm_channel: AbstractRobustChannel | None = None
        self._fast_channel: AbstractRobustChannel | None = None
        self._connected = asyncio.Event()
        self._stopping = asyncio.Event()
        self._connector: asyncio.Task[None] | None = None
        self._on_connect: list[Callable[[], Coroutine[Any, Any, None]]] = []
        # Robust objects are only restored while referenced: keep every queue and consumer here.
        self._keep: list[Any] = []
        self._consumer_tags: dict[int, str] = {}

    def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        if self._connector is None:
            self._connector = asyncio.create_task(self._connect_loop(), name=f"{self.name}-broker-connect")

    async def wait_connected(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout)
        return self._connected.is_set()

    def on_connect(self, callback: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `callback` once the first connection is up (at once if it already is)."""
        self._on_connect.append(callback)
        if self._connected.is_set():
            self._keep.append(asyncio.create_task(callback()))

    async def _connect_loop(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                conn = await aio_pika.connect_robust(
                    self.url, timeout=5, reconnect_interval=1, client_properties={"connection_name": self.name}
                )
            except Exception as exc:
                log.warning("cannot reach RabbitMQ at startup (%s); retrying in %.1fs", type(exc).__name__, delay)
                # Sleep, but wake at once when the service is stopping.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, 5.0)
                continue
            self.connection = conn
            break
        if self.connection is None or self._stopping.is_set():
            return
        self._confirm_channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)  # type: ignore[assignment]
        self._fast_channel = await self.connection.channel(publisher_confirms=False)  # type: ignore[assignment]
        await self.declare_topology()
        self._connected.set()
        log.info("connected to RabbitMQ")
        for callback in self._on_connect:
            try:
                await callback()
            except Exception:
                log.exception("broker on-connect callback failed")

    async def declare_topology(self) -> None:
        assert self._confirm_channel is not None
        for ex in self.topology.exchanges:
            await self._confirm_channel.declare_exchange(ex.name, ex.type, durable=ex.durable)
        for spec in self.topology.durable_queues:
            queue = await self._confirm_channel.declare_queue(spec.name, durable=True, arguments=spec.arguments)
            await queue.bind(spec.exchange, spec.routing_key)

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.is_closed and self._connected.is_set()

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        message: BaseModel,
        *,
        persistent: bool = True,
        confirm: bool = True,
        mandatory: bool = False,
        headers: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Publish; with `confirm` this returns only once RabbitMQ has taken responsibility for the message."""
        try:
            await self._publish(exchange, routing_key, message, persistent, confirm, mandatory, headers, timeout)
        except ServiceUnavailable:
            BROKER_PUBLISH_FAILURES.labels(exchange=exchange).inc()
            raise

    async def _publish(
        self,
        exchange: str,
        routing_key: str,
        message: BaseModel,
        persistent: bool,
        confirm: bool,
        mandatory: bool,
        headers: dict[str, Any] | None,
        timeout: float | None,
    ) -> None:
        channel = self._confirm_channel if confirm else self._fast_channel
        if channel is None or not self.connected:
            raise ServiceUnavailable(
                "The message broker is unreachable; try again in a moment.", error="broker_unavailable"
            )
        body = message.model_dump_json().encode()
        msg = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT if persistent else aio_pika.DeliveryMode.NOT_PERSISTENT,
            headers=headers,
        )
        try:
            # One deadline for the whole publish, without the task per await that `wait_for` creates.
            async with asyncio.timeout(timeout or self.publish_timeout):
                ex = await channel.get_exchange(exchange, ensure=False)
                await ex.publish(msg, routing_key, mandatory=mandatory)
        except TimeoutError:
            raise ServiceUnavailable(
                "The message broker did not confirm in time; nothing was sent. Try again in a moment.",
                error="broker_unavailable",
            ) from None
        except ServiceUnavailable:
            raise
        except Exception as exc:
            log.warning("publish to %s/%s failed: %s", exchange, routing_key, exc)
            raise ServiceUnavailable(
                "The message broker refused the message; nothing was sent. Try again in a moment.",
                error="broker_unavailable",
            ) from exc

    async def consume(
        self,
        queue_name: str | None,
        handler: Handler,
        *,
        prefetch: int = 10,
        arguments: dict[str, Any] | None = None,
        bindings: tuple[tuple[str, str], ...] = (),
        exclusive: bool = False,
        durable: bool = True,
    ) -> AbstractQueue:
        """Consume on a channel of its own. An exclusive queue (no name) lives as long as this connection."""
        assert self.connection is not None, "consume() before the broker connected; use on_connect()"
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.declare_queue(
            queue_name,
            durable=durable and not exclusive,
            exclusive=exclusive,
            auto_delete=exclusive,
            arguments=arguments,
        )
        for exchange, key in bindings:
            await queue.bind(exchange, key)
        tag = await queue.consume(handler)
        self._keep.extend([channel, queue, tag])
        self._consumer_tags[id(queue)] = tag
        return queue

    async def cancel_consumer(self, queue: AbstractQueue) -> None:
        """Stop deliveries from a queue consume() returned (and their restore on reconnect); the deliveries
        already received stay this process' to settle."""
        tag = self._consumer_tags.pop(id(queue), None)
        if tag is not None and self.connected:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)

    async def state(self) -> tuple[str, str | None]:
        if self.connected:
            return "ok", None
        return (
            "down",
            "RabbitMQ is unreachable; runs cannot be sent until it is back (the service reconnects on its own)",
        )

    async def close(self) -> None:
        # Let a connection attempt in flight finish rather than cancel it: aio-pika leaves the tasks of a
        # half-made robust connection running forever when cancelled mid-handshake.
        self._stopping.set()
        if self._connector is not None and not self._connector.done():
            done, _ = await asyncio.wait({self._connector}, timeout=10)
            if not done:
                self._connector.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._connector
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close()
        self._connected.clear()
