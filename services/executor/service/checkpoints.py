"""Checkpoints: a person (or the timeout) decides, the owner's inbox lists them.

One code path decides, for a person and for the timeout sweeper alike, inside the caller's transaction:
1. lock the run's row (so decisions, cancels and the runner's pause on one run serialise, in one lock order);
2. `UPDATE ... WHERE status = 'pending' RETURNING`: of two deciders exactly one gets the row, the other a 409;
3. edit: the edited text becomes the step's stored output, so every later step (on any executor) reads it;
   reject: the run ends `failed` with the comment as its error, and any other pending checkpoint is closed;
4. the last pending checkpoint of a paused run decided: the run goes back to `queued` and its request is published
   again, with `resume` set, confirmed before the commit (under the same advisory lock a send holds, so the
   executor that takes it waits for the commit). Any executor replica takes it and continues after the recorded
   steps. A run still finishing parallel siblings is not paused yet: its executor sees the decision when it
   would pause, and goes on instead.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.executor import metrics
from services.executor.events import RunEvents
from services.executor.models import Checkpoint, Execution
from services.executor.repository import ExecutionRepository
from services.executor.service.executions import run_not_found
from services.executor.service.runs import broker_down, publish_run_request
from shared.auth import CurrentUser
from shared.contracts import CHECKPOINT_STATUSES, TERMINAL_STATUSES, CheckpointAction, DecisionReason
from shared.db import after_commit
from shared.errors import BadRequest, Conflict, NotFound
from shared.messaging import Broker, RunRequestV1
from shared.messaging.messages import ResumeV1
from shared.pagination import decode_keyset, keyset_cursor, split_page

log = logging.getLogger("echoai.executor.checkpoints")

DECIDED_STATUS: dict[CheckpointAction, str] = {"approve": "approved", "edit": "edited", "reject": "rejected"}


class Decisions:
    """Deciding a checkpoint, in the caller's transaction (a request's, or the sweeper's)."""

    def __init__(self, db: AsyncSession, broker: Broker, events: RunEvents):
        self.db = db
        self.repo = ExecutionRepository(db)
        self.broker = broker
        self.events = events

    async def decide(
        self,
        run_id: uuid.UUID,
        checkpoint_id: uuid.UUID,
        *,
        action: CheckpointAction,
        output: str | None = None,
        comment: str | None = None,
        decided_by: uuid.UUID | None,
        reason: DecisionReason,
        owner: uuid.UUID | None = None,
    ) -> Checkpoint:
        run = await self.repo.lock(run_id, owner)
        if run is None:
            raise run_not_found(run_id)
        current = await self.repo.checkpoint(run_id, checkpoint_id)
        if current is None:
            raise NotFound(
                f"Checkpoint {checkpoint_id} is not a checkpoint of run {run_id}.", error="checkpoint_not_found"
            )
        if run.status in TERMINAL_STATUSES:
            raise Conflict(
                f"Run {run_id} already ended {run.status}; its checkpoints can no longer be decided.",
                error="run_finished",
            )
        decided = await self.repo.decide(
            run_id,
            checkpoint_id,
            status=DECIDED_STATUS[action],
            decided_by=decided_by,
            reason=reason,
            comment=comment,
            edited_output=output if action == "edit" else None,
        )
        if decided is None:
            raise Conflict(
                f"Checkpoint {checkpoint_id} was already decided ({current.status}); a decision is final.",
                error="checkpoint_decided",
            )
        if action == "reject":
            await self._reject(run, decided, comment, reason)
            return decided
        if action == "edit" and output is not None:
            await self.repo.set_step_output(run_id, decided.step_id, output)
        if run.status == "paused" and not await self.repo.checkpoints(run_id, status="pending"):
            await self._resume(run, decided, reason)
        return decided

    async def _reject(
        self, run: Execution, checkpoint: Checkpoint, comment: str | None, reason: DecisionReason
    ) -> None:
        if comment:
            error = comment
        elif reason == "timeout":
            error = f"Nobody decided on the output of {checkpoint.agent_name} in time; it was rejected (on_timeout)."
        else:
            error = f"The output of {checkpoint.agent_name} was rejected."
        finished = await self.repo.finish(run.run_id, "failed", error=error, bump_seq=self.events.enabled)
        await self.repo.close_checkpoints(run.run_id)
        if finished is None:
            return

        async def announce() -> None:
            metrics.run_ended(finished)
            await self.events.announce_end(finished)

        after_commit(self.db, announce)

    async def _resume(self, run: Execution, checkpoint: Checkpoint, reason: DecisionReason) -> None:
        if not self.broker.connected:
            raise broker_down()  # the transaction rolls back: the decision is not recorded either
        await self.repo.requeue(run.run_id)
        await self.repo.lock_send(run.run_id)
        request = RunRequestV1.model_validate(run.request).model_copy(
            update={
                "resume": ResumeV1(
                    checkpoint_id=checkpoint.checkpoint_id,
                    reason="edited" if checkpoint.status == "edited" else "approved",
                    decided_by=reason,
                )
            }
        )
        await publish_run_request(self.broker, request)


class CheckpointService:
    """The owner's side: a run's checkpoints, the inbox across runs, and deciding."""

    def __init__(self, db: AsyncSession, broker: Broker, events: RunEvents, user: CurrentUser):
        self.repo = ExecutionRepository(db)
        self.decisions = Decisions(db, broker, events)
        self.user = user

    async def of_run(self, run_id: uuid.UUID) -> list[Checkpoint]:
        if await self.repo.get(run_id, self.user.user_id) is None:
            raise run_not_found(run_id)
        return list(await self.repo.checkpoints(run_id))

    async def inbox(
        self, *, status: str | None, workflow_id: uuid.UUID | None, cursor: str | None, limit: int
    ) -> tuple[list[Checkpoint], str | None]:
        if status is not None and status not in CHECKPOINT_STATUSES:
            raise BadRequest(f"status must be one of {', '.join(CHECKPOINT_STATUSES)}.", error="invalid_status")
        rows = await self.repo.inbox(
            self.user.user_id, status=status, workflow_id=workflow_id, after=decode_keyset(cursor), limit=limit + 1
        )
        return split_page(rows, limit, lambda c: keyset_cursor(c.created_at, c.checkpoint_id))

    async def decide(
        self,
        run_id: uuid.UUID,
        checkpoint_id: uuid.UUID,
        *,
        action: CheckpointAction,
        output: str | None,
        comment: str | None,
    ) -> Checkpoint:
        """Only the run's owner decides: anyone else finds no such run (404)."""
        return await self.decisions.decide(
            run_id,
            checkpoint_id,
            action=action,
            output=output,
            comment=comment,
            decided_by=self.user.user_id,
            reason="person",
            owner=self.user.user_id,
        )
