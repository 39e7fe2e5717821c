"""Settling a delivery and reading how often it came: the same rules for every consumer.

RabbitMQ redelivers whatever is not acked when a channel closes, so every consumer is idempotent and a settle
that fails on a stale channel (after a reconnect, or at shutdown) is only logged: the broker hands the message
out again.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from aio_pika.abc import AbstractIncomingMessage

log = logging.getLogger("echoai.messaging")

Settlement = Literal["ack", "requeue", "reject"]


def delivery_attempt(message: AbstractIncomingMessage) -> int:
    """1 for the first delivery; quorum queues count earlier returns in `x-delivery-count`."""
    count: Any = (message.headers or {}).get("x-delivery-count", 0)
    return count + 1 if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else 1


def death_reason(message: AbstractIncomingMessage) -> str:
    """Why a dead-lettered message died (`delivery_limit`, `rejected`, ...)."""
    reason = (message.headers or {}).get("x-first-death-reason")
    return str(reason.decode() if isinstance(reason, bytes) else reason or "rejected")


async def settle(message: AbstractIncomingMessage, how: Settlement = "ack") -> None:
    """Ack, requeue (nack back to the queue), or reject for good (to the dead letters where the queue has them)."""
    try:
        if how == "ack":
            await message.ack()
        elif how == "requeue":
            await message.nack(requeue=True)
        else:
            await message.reject(requeue=False)
    except Exception as exc:
        log.warning(
            "could not %s delivery %s (%s); the broker will redeliver it", how, message.delivery_tag, type(exc).__name__
        )
