"""Remove a test run's queues and exchanges from the shared RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib

import aio_pika

from shared.messaging.topology import Topology


async def _delete_namespace(amqp_url: str, namespace: str) -> None:
    topo = Topology(namespace)
    conn = await aio_pika.connect(amqp_url, timeout=5)
    try:
        for spec in topo.durable_queues:
            channel = await conn.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(spec.name)
        for ex in topo.exchanges:
            channel = await conn.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(ex.name)
    finally:
        await conn.close()


def delete_namespace(amqp_url: str, namespace: str) -> None:
    with contextlib.suppress(Exception):
        asyncio.run(_delete_namespace(amqp_url, namespace))
