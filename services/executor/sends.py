"""Connections that sends write with, each already holding the send lock of the next run id, and the sends in
flight in this process.

A send publishes its `RunQueuedV1` while it holds the run's send lock in PostgreSQL, and the consumer that takes
the message waits for that lock before it reads the row (`repository.try_lock_run`), so the lock must be held
before the publish. Taking it was a round trip (0.5 to 0.6 ms measured on a 2-core machine) between the
request's arrival and the publish. Here the lock is taken ahead: once a send's answer is out,
the statement that releases its lock takes the lock of a fresh run id on the same connection (one round trip, off
anyone's critical path), and the next send starts with a run id whose lock is already held. Up to `ARMED`
connections of the pool stay checked out this way; sends beyond that arm a connection when they arrive, as before.

A run id is used by one send only; a send that fails leaves its id behind with its lock released. A connection
that died while armed holds no lock any more: the send on it fails at its INSERT, and the consumer of its
published `RunQueuedV1` finds no lock and no row, and drops it, so nothing runs that was answered with an error.

Sends in flight: most of the time the consumer of a send's message is this very process, and RabbitMQ hands the
message over as it confirms the publish. A delivery of a run whose send is still going on here waits on an
`asyncio.Event` (`ended`) instead of spending CPU on the event loop (a connection from the pool, a statement that
then waits in PostgreSQL) just as the send is about to write its row and answer. This is only a shortcut in front
of the lock: another executor's delivery still waits on PostgreSQL, and this one takes the lock itself afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.executor.repository import SendRepository
from shared.db import driver_of

log = logging.getLogger("echoai.executor.sends")

# As many as the runs one executor takes at once by default: bursts of sends beyond it arm on arrival.
ARMED = 4


@dataclass
class SendSlot:
    """A connection checked out of the pool for sends, holding the send lock of `run_id`, which no send used."""

    conn: AsyncConnection
    statements: SendRepository
    run_id: uuid.UUID


class Sends:
    def __init__(self, engine: AsyncEngine, *, armed: int = ARMED):
        self._engine = engine
        self._armed = armed
        self._ready: list[SendSlot] = []
        self._ended: dict[uuid.UUID, asyncio.Event] = {}
        self._closed = False

    def in_flight(self) -> int:
        return len(self._ended)

    def ready(self) -> int:
        return len(self._ready)

    async def take(self) -> SendSlot:
        """A connection holding the send lock of a fresh run id: an armed one, else one armed now."""
        while self._ready:
            slot = self._ready.pop()
            if slot.statements.conn.is_closed():  # PostgreSQL closed it while it waited: its lock is gone
                await self._discard(slot.conn)
                continue
            break
        else:
            slot = await self._arm()
        self._ended[slot.run_id] = asyncio.Event()
        return slot

    async def put_back(self, slot: SendSlot) -> None:
        """Once the send's answer is out: release its lock and, while fewer than `armed` wait, take the next run
        id's in the same round trip. Raises only when cancelled: a connection that cannot be released is closed,
        which releases its locks too."""
        keep = not self._closed and len(self._ready) < self._armed
        next_id = uuid.uuid4()
        try:
            released = await self._release(slot, then_hold=next_id if keep else None)
        finally:
            self._end(slot.run_id)
        if not released:
            return
        if not keep:
            await slot.conn.close()  # released above: back to the pool as it is
        elif self._closed:  # closed while the next lock was being taken
            await self._return(SendSlot(slot.conn, slot.statements, next_id))
        else:
            self._ready.append(SendSlot(slot.conn, slot.statements, next_id))

    async def ended(self, run_id: uuid.UUID) -> None:
        """Returns once the send of `run_id` in this process, if there is one, has let go of its lock."""
        event = self._ended.get(run_id)
        if event is not None:
            await event.wait()

    async def close(self) -> None:
        self._closed = True
        while self._ready:
            await self._return(self._ready.pop())

    async def _arm(self) -> SendSlot:
        conn = await self._engine.connect()
        run_id = uuid.uuid4()
        try:
            statements = SendRepository(await driver_of(conn))
            await statements.hold(run_id)
        except BaseException:
            # Not back to the pool: a lock statement cut short may still have taken its lock.
            await self._discard(conn)
            raise
        return SendSlot(conn, statements, run_id)

    async def _return(self, slot: SendSlot) -> None:
        """To the pool, with no lock held."""
        if await self._release(slot):
            await slot.conn.close()

    async def _release(self, slot: SendSlot, then_hold: uuid.UUID | None = None) -> bool:
        """The slot's locks released (and `then_hold`'s taken); False when that failed and the connection was
        closed instead, rather than pooled: a connection still holding a send lock would stall that run."""
        try:
            await slot.statements.release(then_hold=then_hold)
        except BaseException as exc:
            log.warning("could not release a send lock; its connection was closed instead", exc_info=True)
            await self._discard(slot.conn)
            if not isinstance(exc, Exception):
                raise
            return False
        return True

    async def _discard(self, conn: AsyncConnection) -> None:
        """Closed, not pooled: PostgreSQL releases whatever locks it held."""
        with contextlib.suppress(Exception):
            await conn.invalidate()
        with contextlib.suppress(Exception):
            await conn.close()

    def _end(self, run_id: uuid.UUID) -> None:
        event = self._ended.pop(run_id, None)
        if event is not None:
            event.set()
