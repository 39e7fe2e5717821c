"""Sends in flight in this process, so that a run's delivery waits for its send on the event loop.

A send publishes its `RunQueuedV1` while it holds the run's send lock in PostgreSQL, and the consumer that takes
the message waits for that lock before it reads the row (`repository.try_lock_run`). Most of the time the
consumer is this very process: RabbitMQ hands the message over as it confirms the publish, so the delivery would
spend CPU (a connection from the pool, a statement that then waits in PostgreSQL) on the event loop just as the
send is about to write its row and answer. A delivery of a run whose send is still going on here waits on an
`asyncio.Event` instead, and starts its claim once the send has let go of the lock.

This is only a shortcut in front of the lock: another executor's delivery still waits on PostgreSQL, and this
one still takes the lock itself afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable


class SendsInFlight:
    def __init__(self) -> None:
        self._ended: dict[uuid.UUID, asyncio.Event] = {}

    def __len__(self) -> int:
        return len(self._ended)

    def begin(self, run_id: uuid.UUID) -> None:
        self._ended.setdefault(run_id, asyncio.Event())

    def end(self, run_ids: Iterable[uuid.UUID]) -> None:
        """Called once the send's locks are released (or its connection closed, which releases them too)."""
        for run_id in run_ids:
            event = self._ended.pop(run_id, None)
            if event is not None:
                event.set()

    async def wait(self, run_id: uuid.UUID) -> None:
        event = self._ended.get(run_id)
        if event is not None:
            await event.wait()
