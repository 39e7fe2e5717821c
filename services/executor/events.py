"""What a run tells the world: live step events (ephemeral, gap-free seq per run) and, once it has finished,
RunFinishedV1 (durable, confirmed) for the session's chat history.

The seq lives in the executions row and is taken with `UPDATE ... last_seq + 1 RETURNING`, so a run resumed on
another executor continues the sequence. Taking a seq and publishing happen under one lock per run, so events of
parallel steps leave in seq order.

An event that got a seq is never dropped: if the broker refuses it, it waits in a per-run backlog (and every later
event of that run queues behind it, since the gateway drops a seq lower than one it has seen) and a background
task publishes the backlog in seq order once the broker takes messages again. No seq is taken while the broker is
known to be away, so that case leaves no gap to fill.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.executor.models import Execution
from services.executor.repository import ExecutionRepository
from shared.db import transaction, utcnow
from shared.errors import ServiceUnavailable
from shared.messaging import Broker, RunFinishedV1, StepEventV1
from shared.messaging.messages import EventType
from shared.messaging.topology import RUN_FINISHED_KEY, event_routing_key

log = logging.getLogger("echoai.executor.events")

RETRY_FIRST = 0.2  # seconds before the first retry of a backlog; doubles up to RETRY_MAX while the broker is away
RETRY_MAX = 5.0


@dataclass(frozen=True)
class Pending:
    """An event to publish once the transaction that took its seq has committed."""

    type: EventType
    step_id: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reserved:
    """Events whose seqs the work already took (`last` is the last of them; None: no seqs, nothing goes out)."""

    pending: list[Pending]
    last: int | None


class RunEvents:
    def __init__(
        self,
        broker: Broker,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        enabled: bool,
        autocommit: async_sessionmaker[AsyncSession] | None = None,
    ):
        self.broker = broker
        self.sessionmaker = sessionmaker
        # For work whose every statement stands on its own: no BEGIN and COMMIT round trips around it.
        self.autocommit = autocommit or sessionmaker
        self.enabled = enabled
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        # Events that got a seq but could not be published yet, per run, in seq order.
        self._backlog: dict[uuid.UUID, list[StepEventV1]] = {}
        self._drainer: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def ordered(self, run_id: uuid.UUID) -> AsyncIterator[None]:
        """Hold while taking a seq and publishing it, so seq order is publish order."""
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            yield

    @property
    def live(self) -> bool:
        """Whether an event taken now can leave: no seq is taken otherwise (that would only leave a gap)."""
        return self.enabled and self.broker.connected

    def forget(self, run_id: uuid.UUID) -> None:
        self._locks.pop(run_id, None)

    async def commit(
        self,
        run_id: uuid.UUID,
        user_id: uuid.UUID,
        work: Callable[[ExecutionRepository], Awaitable[list[Pending] | Reserved]],
        *,
        autocommit: bool = False,
    ) -> None:
        """Run `work` in one transaction that also takes the seqs of the events it returns (unless it took them
        itself: `Reserved`); publish them after the commit. One transaction for a durable point and its events,
        and the events follow the data. `autocommit`: the work is one statement that records the point and takes
        its seqs together (and returns `Reserved`), so it needs no transaction around it."""
        async with self.ordered(run_id):
            async with transaction(self.autocommit if autocommit else self.sessionmaker) as session:
                repo = ExecutionRepository(session)
                result = await work(repo)
                if isinstance(result, Reserved):
                    pending, last = result.pending, result.last
                else:
                    pending = result
                    last = await repo.next_seq(run_id, len(pending)) if self.live and pending else None
            if last is None or not pending:
                return
            first = last - len(pending) + 1
            for seq, event in enumerate(pending, start=first):
                await self.publish(
                    run_id,
                    user_id,
                    event.type,
                    seq,
                    step_id=event.step_id,
                    agent_id=event.agent_id,
                    agent_name=event.agent_name,
                    data=event.data,
                )

    async def emit(
        self,
        run_id: uuid.UUID,
        user_id: uuid.UUID,
        type_: EventType,
        *,
        step_id: str | None = None,
        agent_id: str | None = None,
        agent_name: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Take the next seq and publish. Never raises: events are a view of the run, not the run."""
        if not self.enabled:
            return
        if not self.broker.connected:
            # The event could not leave anyway; taking its seq would only leave a gap for the clients.
            log.warning("step event %s of run %s dropped: broker unavailable", type_, run_id)
            return
        async with self.ordered(run_id):
            try:
                async with transaction(self.autocommit) as session:  # one statement
                    seq = await ExecutionRepository(session).next_seq(run_id)
            except Exception:
                log.exception("could not take a seq for %s of run %s", type_, run_id)
                return
            if seq is None:
                return
            await self.publish(
                run_id, user_id, type_, seq, step_id=step_id, agent_id=agent_id, agent_name=agent_name, data=data
            )

    async def publish(
        self,
        run_id: uuid.UUID,
        user_id: uuid.UUID,
        type_: EventType,
        seq: int,
        *,
        step_id: str | None = None,
        agent_id: str | None = None,
        agent_name: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Publish an event whose seq was already taken (a terminal event takes it with its status change)."""
        if not self.enabled:
            return
        event = StepEventV1(
            type=type_,
            run_id=run_id,
            user_id=user_id,
            seq=seq,
            ts=utcnow(),
            step_id=step_id,
            agent_id=agent_id,
            agent_name=agent_name,
            data=data or {},
        )
        await self._send(event)

    async def _send(self, event: StepEventV1) -> None:
        backlog = self._backlog.get(event.run_id)
        if backlog is not None:
            backlog.append(event)  # behind an earlier event of its run that has not left yet
            return
        try:
            await self._publish_event(event)
        except ServiceUnavailable:
            log.warning("event %s #%d of run %s held back: broker unavailable", event.type, event.seq, event.run_id)
            self._backlog[event.run_id] = [event]
            if self._drainer is None or self._drainer.done():
                self._drainer = asyncio.create_task(self._drain(), name="echoai-events-backlog")

    async def _publish_event(self, event: StepEventV1) -> None:
        await self.broker.publish(
            self.broker.topology.events_exchange,
            event_routing_key(event.run_id, event.type),
            event,
            persistent=False,
            confirm=False,
        )

    async def _drain(self) -> None:
        """Publish every held-back event, each run's in seq order, retrying until the broker takes them."""
        delay = RETRY_FIRST
        while self._backlog:
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
            if not self.broker.connected:
                continue
            for run_id in list(self._backlog):
                held = self._backlog[run_id]
                while held:
                    try:
                        await self._publish_event(held[0])
                    except ServiceUnavailable:
                        break
                    held.pop(0)
                if not held:
                    del self._backlog[run_id]
            if not self._backlog:
                return

    def held_back(self, run_id: uuid.UUID | None = None) -> int:
        """Events that got a seq and wait for the broker (of one run, or all)."""
        if run_id is not None:
            return len(self._backlog.get(run_id, ()))
        return sum(len(v) for v in self._backlog.values())

    async def close(self) -> None:
        """One last try for what is held back, then stop retrying (the process is stopping)."""
        if self._drainer is not None and not self._drainer.done():
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer
        if self._backlog and self.broker.connected:
            with contextlib.suppress(Exception):
                for run_id in list(self._backlog):
                    for event in self._backlog.pop(run_id):
                        await self._publish_event(event)
        if self._backlog:
            log.warning("%d step events lost at shutdown: broker unavailable", self.held_back())

    async def publish_terminal(self, run: Execution) -> None:
        """The terminal event of a run whose terminal status (and seq) was just committed."""
        type_: EventType = {"completed": "run_completed", "failed": "run_failed", "cancelled": "run_cancelled"}[
            run.status
        ]  # type: ignore[assignment]
        data: dict[str, Any] = {"status": run.status}
        if run.status == "completed":
            data["output"] = run.output
        elif run.status == "failed":
            data["error"] = run.error
        async with self.ordered(run.run_id):
            await self.publish(run.run_id, run.user_id, type_, run.last_seq, data=data)
        self.forget(run.run_id)

    async def publish_finished(self, run: Execution) -> bool:
        """RunFinishedV1 for a run with a session (persistent, confirmed); records that it went out."""
        if run.session_id is not None:
            message = RunFinishedV1(
                run_id=run.run_id,
                workflow_id=run.workflow_id,
                user_id=run.user_id,
                session_id=run.session_id,
                status=run.status,  # type: ignore[arg-type]
                output=run.output,
                error=run.error,
                finished_at=run.completed_at or utcnow(),
            )
            try:
                await self.broker.publish(self.broker.topology.runs_exchange, RUN_FINISHED_KEY, message)
            except ServiceUnavailable:
                log.warning("RunFinished of run %s not published yet: broker unavailable", run.run_id)
                return False
            async with transaction(self.sessionmaker) as session:
                await ExecutionRepository(session).mark_finish_published(run.run_id)
        return True

    async def announce_end(self, run: Execution) -> bool:
        await self.publish_terminal(run)
        return await self.publish_finished(run)
