"""The workflows this executor's sends read recently, kept in memory until the workflow service changes them.

Without it a send reads its workflow over HTTP before it answers: a second service and a second query on the
way to the 202. A workflow does not change between two sends unless somebody writes it, and every committed
change of a workflow row is announced on a PostgreSQL channel (`shared.contracts.WORKFLOW_CHANGED_CHANNEL`, a
trigger of the workflow service's migrations). This cache listens on it, on a connection of its own, and drops
a workflow as soon as it is named there.

Never stale. Before it answers from memory, `get` makes one round trip on the listening connection (concurrent
gets share one that was sent after all of them began). A transaction that notifies signals every listener
while it commits, before its COMMIT returns, and a listening backend hands the notices it was signalled about
to its client before the ReadyForQuery that ends its next statement. So once that round trip is back, every
change committed before the send arrived has been applied here: asyncpg schedules the listener callback when
the notice's bytes arrive, ahead of the wake-up of the round trip that came after them. The round trip also
checks that the trigger is in place and enabled, so a workflow service that announces nothing (another
database, a migration not yet run, a disabled trigger) turns the cache off instead of leaving it stale.

A read over HTTP is kept only if no notice naming its workflow (and no reconnect) came in while it was in
flight, so an answer read before a change is never kept after that change. Without the listening connection (PostgreSQL
out of reach, a round trip slower than `SYNC_TIMEOUT`) every get reads over HTTP, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.executor.metrics import WORKFLOW_READS as READS
from shared.contracts import WORKFLOW_CHANGED_ALL, WORKFLOW_CHANGED_CHANNEL, WorkflowOut
from shared.dbadmin import asyncpg_dsn

log = logging.getLogger("echoai.executor.definitions")

SYNC_TIMEOUT = 1.0
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 15.0)
# The round trip of `get`: the version of the workflow service's trigger while it announces changes, else NULL.
# A trigger disabled and enabled again (or dropped and made again) has a new version: what changed in between was
# not announced, so everything kept is forgotten.
ANNOUNCING = """
SELECT xmin::text FROM pg_catalog.pg_trigger
WHERE tgrelid = to_regclass('workflow.workflows') AND tgname = 'announce_workflow_change' AND tgenabled = 'O'
"""


class _Read:
    """One read over HTTP in flight; spoiled when its workflow changes before it ends."""

    __slots__ = ("spoiled",)

    def __init__(self) -> None:
        self.spoiled = False


class WorkflowCache:
    """Workflows by id, each as its owner read it, within `max_bytes` of JSON (least recently used go first)."""

    def __init__(self, database_url: str, *, max_bytes: int):
        self._dsn = asyncpg_dsn(database_url)
        self.max_bytes = max_bytes
        self._entries: OrderedDict[uuid.UUID, tuple[uuid.UUID, bytes]] = OrderedDict()
        self._bytes = 0
        # The reads over HTTP in flight, by workflow: a notice naming one (or a reconnect) spoils it.
        self._reads: dict[uuid.UUID, set[_Read]] = {}
        self._conn: asyncpg.Connection | None = None
        self._trigger: str | None = None  # the trigger's version when listening began, or at the last change
        self._lost: asyncio.Event | None = None
        self._next: asyncio.Future[bool] | None = None  # the round trip not sent yet, that new gets join
        self._syncing: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return self._conn is not None

    def start(self) -> None:
        if self.max_bytes > 0:
            self._listener = asyncio.create_task(self._listen(), name="executor-workflow-cache")

    async def close(self) -> None:
        for task in (self._listener, self._syncing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._forget_all()

    async def get(
        self, user_id: uuid.UUID, workflow_id: uuid.UUID, fetch: Callable[[], Awaitable[WorkflowOut]]
    ) -> WorkflowOut:
        """The workflow as `fetch` (a read over HTTP on the caller's behalf) would answer it now."""
        if not await self._synced():
            READS.labels("http").inc()
            return await fetch()
        entry = self._entries.get(workflow_id)
        if entry is not None and entry[0] == user_id:
            self._entries.move_to_end(workflow_id)
            READS.labels("memory").inc()
            # A fresh object per send: nothing a run does to its definition can reach the cached one.
            return WorkflowOut.model_validate_json(entry[1])
        read = _Read()
        self._reads.setdefault(workflow_id, set()).add(read)
        try:
            workflow = await fetch()
        finally:
            reads = self._reads[workflow_id]
            reads.discard(read)
            if not reads:
                del self._reads[workflow_id]
        READS.labels("http").inc()
        if self._conn is not None and not read.spoiled:
            self._keep(workflow_id, user_id, workflow.model_dump_json().encode())
        return workflow

    # --- memory -----------------------------------------------------------------------------------------------
    def _keep(self, workflow_id: uuid.UUID, user_id: uuid.UUID, raw: bytes) -> None:
        if len(raw) > self.max_bytes // 4:
            return  # a handful of huge definitions would push out everything else
        self._evict(workflow_id)
        self._entries[workflow_id] = (user_id, raw)
        self._bytes += len(raw)
        while self._bytes > self.max_bytes:
            _, (_, oldest) = self._entries.popitem(last=False)
            self._bytes -= len(oldest)

    def _evict(self, workflow_id: uuid.UUID) -> None:
        entry = self._entries.pop(workflow_id, None)
        if entry is not None:
            self._bytes -= len(entry[1])

    def _drop(self, workflow_id: uuid.UUID) -> None:
        """The workflow changed: neither what is kept nor what is being read may be used."""
        self._evict(workflow_id)
        for read in self._reads.get(workflow_id, ()):
            read.spoiled = True

    def _forget_all(self) -> None:
        self._entries.clear()
        self._bytes = 0
        for reads in self._reads.values():
            for read in reads:
                read.spoiled = True

    def _on_notice(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload == WORKFLOW_CHANGED_ALL:
            self._forget_all()
            return
        try:
            self._drop(uuid.UUID(payload))
        except ValueError:
            self._forget_all()

    # --- the round trip ---------------------------------------------------------------------------------------
    async def _synced(self) -> bool:
        """True once a round trip on the listening connection, sent after this call began, came back and found
        the trigger in place."""
        if self._conn is None:
            return False
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            if self._syncing is None or self._syncing.done():
                self._syncing = asyncio.create_task(self._round_trips())
        waiter = self._next
        try:
            async with asyncio.timeout(SYNC_TIMEOUT):
                return await asyncio.shield(waiter)
        except TimeoutError:
            log.warning("the listening connection did not answer within %.1f s; reconnecting", SYNC_TIMEOUT)
            self._hang_up()
            return False

    async def _round_trips(self) -> None:
        # One statement at a time on the connection; the gets that arrive meanwhile wait for the next one.
        while self._next is not None:
            batch, self._next = self._next, None
            announcing = False
            try:
                announcing = await self._round_trip()
            finally:  # cancelled at shutdown included: nobody waits out SYNC_TIMEOUT for nothing
                if not batch.done():
                    batch.set_result(announcing)

    async def _round_trip(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            trigger = await conn.fetchval(ANNOUNCING)
        except Exception as exc:  # whatever it is (a dying connection raises asyncpg's internal errors too)
            log.warning("the listening connection failed (%r); reconnecting", exc)
            self._hang_up()
            return False
        return self._announcing(trigger)

    def _announcing(self, trigger: str | None) -> bool:
        if trigger is None:
            log.warning(
                "workflow changes are not announced in this database (the workflow service's migrations not run "
                "here, or its trigger disabled); sends read workflows over HTTP"
            )
            self._hang_up()
            return False
        if trigger != self._trigger:
            log.warning("the workflow service's trigger changed; forgetting every workflow kept")
            self._trigger = trigger
            self._forget_all()
        return True

    # --- the listening connection -----------------------------------------------------------------------------
    def _hang_up(self) -> None:
        self._conn = None
        self._forget_all()
        if self._lost is not None:
            self._lost.set()

    async def _listen(self) -> None:
        failures = 0
        while True:
            conn = await self._connect()
            if conn is None:
                failures += 1
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])
                continue
            failures = 0
            lost = self._lost = asyncio.Event()
            conn.add_termination_listener(_setter(lost))
            self._forget_all()  # whatever was read while deaf may be stale
            self._conn = conn
            log.info("listening for workflow changes; sends read unchanged workflows from memory")
            try:
                await lost.wait()
            finally:
                if self._conn is conn:
                    self._hang_up()
                with contextlib.suppress(Exception):
                    conn.terminate()
            log.warning("stopped listening for workflow changes; sends read workflows over HTTP until it is back")
            await asyncio.sleep(RETRY_SECONDS[0])

    async def _connect(self) -> asyncpg.Connection | None:
        # Any failure here is retried: an exception let out would end `_listen`, and with it the cache, for good.
        try:
            conn = await asyncpg.connect(self._dsn, timeout=5)
        except Exception as exc:
            log.debug("cannot open the listening connection: %r", exc)
            return None
        try:
            await conn.add_listener(WORKFLOW_CHANGED_CHANNEL, self._on_notice)
            self._trigger = await conn.fetchval(ANNOUNCING)
            if self._trigger is not None:
                return conn
            log.info("workflow changes are not announced in this database yet; sends read workflows over HTTP")
        except Exception as exc:
            log.debug("cannot listen for workflow changes: %r", exc)
        conn.terminate()
        return None


def _setter(event: asyncio.Event) -> Callable[[Any], None]:
    return lambda _conn: event.set()
