"""Runs as their owner reads and stops them: get, list, steps, cancel."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.executor import metrics
from services.executor.events import RunEvents
from services.executor.models import Execution, ExecutionStep
from services.executor.repository import ExecutionRepository
from shared.auth import CurrentUser
from shared.contracts import RUN_STATUSES
from shared.db import after_commit
from shared.errors import BadRequest, Conflict, NotFound, ServiceUnavailable
from shared.messaging import Broker, RunControlV1
from shared.pagination import decode_keyset, keyset_cursor, split_page


def run_not_found(run_id: uuid.UUID) -> NotFound:
    return NotFound(f"Run {run_id} does not exist (or is not yours).", error="run_not_found")


class ExecutionService:
    def __init__(self, db: AsyncSession, broker: Broker, events: RunEvents, user: CurrentUser):
        self.db = db
        self.repo = ExecutionRepository(db)
        self.broker = broker
        self.events = events
        self.user = user

    async def get(self, run_id: uuid.UUID) -> Execution:
        row = await self.repo.get(run_id, self.user.user_id)
        if row is None:
            raise run_not_found(run_id)
        return row

    async def list(
        self, *, workflow_id: uuid.UUID | None, status: str | None, cursor: str | None, limit: int
    ) -> tuple[list[Execution], str | None]:
        if status is not None and status not in RUN_STATUSES:
            raise BadRequest(f"status must be one of {', '.join(RUN_STATUSES)}.", error="invalid_status")
        rows = await self.repo.list(
            self.user.user_id, workflow_id=workflow_id, status=status, after=decode_keyset(cursor), limit=limit + 1
        )
        return split_page(rows, limit, lambda r: keyset_cursor(r.created_at, r.run_id))

    async def steps(self, run_id: uuid.UUID) -> tuple[Execution, Sequence[ExecutionStep]]:
        run = await self.get(run_id)
        return run, await self.repo.steps(run_id)

    async def cancel(self, run_id: uuid.UUID) -> Execution:
        """Queued or paused: cancelled here and now (a paused run's pending checkpoints with it). Running: flagged,
        and every executor is nudged; the one holding the run stops at its next step boundary."""
        row = await self.repo.request_cancel(run_id, self.user.user_id, bump_seq=self.events.enabled)
        if row is None:
            existing = await self.repo.get(run_id, self.user.user_id)
            if existing is None:
                raise run_not_found(run_id)
            raise Conflict(
                f"Run {run_id} already ended {existing.status}; there is nothing to cancel.", error="run_finished"
            )
        if row.status == "cancelled":
            await self.repo.close_checkpoints(run_id)
            finished = row

            async def announce() -> None:
                metrics.run_ended(finished)
                await self.events.announce_end(finished)

            after_commit(self.db, announce)
            return row

        async def notify() -> None:
            # Only a nudge: the flag in the row is what the executor checks at each step boundary.
            with contextlib.suppress(ServiceUnavailable):
                await self.broker.publish(
                    self.broker.topology.control_exchange,
                    "",
                    RunControlV1(run_id=run_id, action="cancel"),
                    persistent=False,
                    confirm=False,
                )

        after_commit(self.db, notify)
        return row
