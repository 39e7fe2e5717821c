"""Every SQL statement of the executor. Status changes are conditional UPDATEs: the database, not a prior read,
decides whether a transition happens, so redelivered requests and concurrent cancels never race."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.executor.models import Checkpoint, Execution, ExecutionStep

ACTIVE = ("queued", "running", "paused")


def lock_key(run_id: uuid.UUID, purpose: str) -> int:
    """A signed 64-bit advisory-lock key for one run and one purpose (so two purposes never block each other)."""
    digest = hashlib.blake2b(f"{purpose}:{run_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def storable(text_: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; a model may well produce one."""
    return text_.replace("\x00", "\ufffd") if text_ else text_


class ExecutionRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    # --- runs -------------------------------------------------------------------------------------------
    async def lock_send(self, run_id: uuid.UUID) -> None:
        """Held by the send transaction until it commits or rolls back; the consumer waits on it (see runner)."""
        await self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(run_id, "send")})

    async def insert(
        self,
        *,
        run_id: uuid.UUID,
        workflow_id: uuid.UUID,
        user_id: uuid.UUID,
        session_id: uuid.UUID | None,
        request: dict[str, Any],
    ) -> Execution:
        row = Execution(
            run_id=run_id,
            workflow_id=workflow_id,
            user_id=user_id,
            session_id=session_id,
            status="queued",
            request=request,
            attempt=0,
            last_seq=0,
            cancel_requested=False,
            finish_published=False,
        )
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def get(self, run_id: uuid.UUID, user_id: uuid.UUID | None = None) -> Execution | None:
        stmt = select(Execution).where(Execution.run_id == run_id)
        if user_id is not None:
            stmt = stmt.where(Execution.user_id == user_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list(
        self,
        user_id: uuid.UUID,
        *,
        workflow_id: uuid.UUID | None,
        status: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[Execution]:
        stmt = select(Execution).where(Execution.user_id == user_id)
        if workflow_id is not None:
            stmt = stmt.where(Execution.workflow_id == workflow_id)
        if status is not None:
            stmt = stmt.where(Execution.status == status)
        if after is not None:
            created, run_id = after
            stmt = stmt.where(
                or_(Execution.created_at < created, and_(Execution.created_at == created, Execution.run_id < run_id))
            )
        stmt = stmt.order_by(Execution.created_at.desc(), Execution.run_id.desc()).limit(limit)
        return (await self.session.execute(stmt)).scalars().all()

    async def claim(self, run_id: uuid.UUID, attempt: int) -> Execution | None:
        """queued/running → running for this delivery; None when the run is finished, paused or gone."""
        stmt = (
            update(Execution)
            .where(Execution.run_id == run_id, Execution.status.in_(("queued", "running")))
            .values(
                status="running",
                attempt=attempt,
                started_at=func.coalesce(Execution.started_at, func.now()),
                updated_at=func.now(),
            )
            .returning(Execution)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def next_seq(self, run_id: uuid.UUID, count: int = 1) -> int | None:
        """Take `count` seqs; returns the last one (the row lock keeps concurrent takers gap-free)."""
        stmt = (
            update(Execution)
            .where(Execution.run_id == run_id)
            .values(last_seq=Execution.last_seq + count)
            .returning(Execution.last_seq)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def finish(
        self,
        run_id: uuid.UUID,
        status: str,
        *,
        output: str | None = None,
        error: str | None = None,
        from_statuses: Sequence[str] = ACTIVE,
        bump_seq: bool = True,
    ) -> Execution | None:
        """Move to a terminal status (and take the seq of the terminal event in the same statement)."""
        output, error = storable(output), storable(error)
        stmt = (
            update(Execution)
            .where(Execution.run_id == run_id, Execution.status.in_(tuple(from_statuses)))
            .values(
                status=status,
                output=output,
                error=error,
                completed_at=func.now(),
                updated_at=func.now(),
                last_seq=Execution.last_seq + (1 if bump_seq else 0),
                # Without a session there is no RunFinished to send.
                finish_published=Execution.session_id.is_(None),
            )
            .returning(Execution)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def request_cancel(self, run_id: uuid.UUID, user_id: uuid.UUID, *, bump_seq: bool) -> Execution | None:
        """A queued or paused run is cancelled here and now; a running one is flagged and stops at a step boundary."""
        idle = Execution.status.in_(("queued", "paused"))
        stmt = (
            update(Execution)
            .where(Execution.run_id == run_id, Execution.user_id == user_id, Execution.status.in_(ACTIVE))
            .values(
                cancel_requested=True,
                status=case((idle, "cancelled"), else_=Execution.status),
                completed_at=case((idle, func.now()), else_=Execution.completed_at),
                last_seq=case((idle, Execution.last_seq + (1 if bump_seq else 0)), else_=Execution.last_seq),
                finish_published=case((idle, Execution.session_id.is_(None)), else_=Execution.finish_published),
                updated_at=func.now(),
            )
            .returning(Execution)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def cancel_requested(self, run_id: uuid.UUID) -> bool:
        stmt = select(Execution.cancel_requested).where(Execution.run_id == run_id)
        return bool((await self.session.execute(stmt)).scalar_one_or_none())

    async def note_error(self, run_id: uuid.UUID, error: str) -> None:
        """Why the last delivery of an unfinished run could not be processed (shown if it is dead-lettered)."""
        await self.session.execute(
            update(Execution)
            .where(Execution.run_id == run_id, Execution.status.in_(ACTIVE))
            .values(error=storable(error), updated_at=func.now())
        )

    async def mark_finish_published(self, run_id: uuid.UUID) -> None:
        await self.session.execute(update(Execution).where(Execution.run_id == run_id).values(finish_published=True))

    # --- steps ------------------------------------------------------------------------------------------
    async def steps(self, run_id: uuid.UUID) -> Sequence[ExecutionStep]:
        stmt = (
            select(ExecutionStep)
            .where(ExecutionStep.run_id == run_id)
            .order_by(ExecutionStep.started_at.nulls_last(), ExecutionStep.position, ExecutionStep.id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def start_step(
        self, run_id: uuid.UUID, *, step_id: str, agent_id: str, agent_name: str, position: int, attempt: int
    ) -> bool:
        """Record the step as running; False when it already completed (then it must not run again)."""
        stmt = (
            insert(ExecutionStep)
            .values(
                run_id=run_id,
                step_id=step_id,
                agent_id=agent_id,
                agent_name=agent_name[:300],
                position=position,
                status="running",
                attempt=attempt,
                started_at=func.now(),
            )
            .on_conflict_do_update(
                constraint="uq_execution_steps_run_id_step_id",
                set_={"status": "running", "attempt": attempt, "started_at": func.now(), "error": None},
                where=ExecutionStep.status != "completed",
            )
            .returning(ExecutionStep.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def end_step(
        self, run_id: uuid.UUID, step_id: str, status: str, *, output: str | None = None, error: str | None = None
    ) -> None:
        output, error = storable(output), storable(error)
        await self.session.execute(
            update(ExecutionStep)
            .where(ExecutionStep.run_id == run_id, ExecutionStep.step_id == step_id, ExecutionStep.status == "running")
            .values(status=status, output=output, error=error, completed_at=func.now())
        )

    async def fail_running_steps(self, run_id: uuid.UUID, error: str) -> None:
        await self.session.execute(
            update(ExecutionStep)
            .where(ExecutionStep.run_id == run_id, ExecutionStep.status == "running")
            .values(status="failed", error=error, completed_at=func.now())
        )

    # --- checkpoints ------------------------------------------------------------------------------------
    async def checkpoints(self, run_id: uuid.UUID) -> Sequence[Checkpoint]:
        stmt = select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.created_at)
        return (await self.session.execute(stmt)).scalars().all()


async def try_lock_run(conn: AsyncConnection, run_id: uuid.UUID) -> bool:
    """Session-level lock held while one executor runs the run; PostgreSQL drops it if that executor dies."""
    result = await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(run_id, "run")})
    await conn.commit()
    return bool(result.scalar())


async def unlock_run(conn: AsyncConnection, run_id: uuid.UUID) -> None:
    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(run_id, "run")})
    await conn.commit()
