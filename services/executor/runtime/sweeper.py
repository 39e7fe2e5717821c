"""Checkpoint timeouts: every executor sweeps, about once a second, for pending checkpoints past `expires_at`
and decides each as its `hitl.on_timeout` says, through the same conditional UPDATE a person's decision uses.

Why a sweeper and not a delayed message: the deadline lives in the checkpoint row, so it survives every executor
being restarted, a broker restart or a purge, with nothing to re-arm; RabbitMQ has no native delay (a per-message
TTL queue only expires from its head, so a 1-hour timeout would hold back a 2-second one queued after it), and
the delayed-message plugin is not on every broker. Any number of replicas may sweep at once: the candidates are
read `FOR UPDATE SKIP LOCKED` on their runs, so replicas split the work, and a person deciding at the same moment
either wins the conditional UPDATE or finds the checkpoint already decided (409). A timeout fires within about
one sweep interval of its deadline. The same sweep refreshes `echoai_checkpoints_pending`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.executor import metrics
from services.executor.events import RunEvents
from services.executor.repository import ExecutionRepository
from services.executor.service import Decisions
from shared.db import transaction
from shared.errors import Conflict, NotFound, ServiceUnavailable
from shared.messaging import Broker

log = logging.getLogger("echoai.executor.sweeper")

BATCH = 20


class Sweeper:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        broker: Broker,
        events: RunEvents,
        *,
        interval: float,
    ):
        self.sessionmaker = sessionmaker
        self.broker = broker
        self.events = events
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="echoai-checkpoint-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except ServiceUnavailable:
                log.warning("checkpoint timeouts wait: the broker is unreachable (a resume cannot be published)")
            except Exception:
                log.exception("checkpoint sweep failed; retrying")
            await asyncio.sleep(self.interval)

    async def sweep(self) -> int:
        """Decide the checkpoints that are due; returns how many this call decided."""
        decided = 0
        async with transaction(self.sessionmaker) as session:
            repo = ExecutionRepository(session)
            for run_id, checkpoint_id in await repo.due_checkpoints(BATCH):
                checkpoint = await repo.checkpoint(run_id, checkpoint_id)
                if checkpoint is None:
                    continue
                try:
                    # A savepoint each: one checkpoint that cannot be decided leaves the others' decisions intact.
                    async with session.begin_nested():
                        await Decisions(session, self.broker, self.events).decide(
                            run_id,
                            checkpoint_id,
                            action="approve" if checkpoint.on_timeout == "approve" else "reject",
                            decided_by=None,
                            reason="timeout",
                        )
                except (Conflict, NotFound):
                    continue
                decided += 1
                log.info("checkpoint %s of run %s timed out: %s", checkpoint_id, run_id, checkpoint.on_timeout)
            metrics.CHECKPOINTS_PENDING.set(await repo.pending_count())
        return decided
