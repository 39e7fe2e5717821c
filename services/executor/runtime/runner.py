"""Runs one run request: claims the run, schedules its steps (sequential, parallel DAG, hierarchical), records each
finished step, publishes step events, and commits the terminal state before announcing it.

Every finished step is a durable point: a redelivered or resumed request skips the steps already completed and
feeds their stored outputs forward, so a run continued on another executor never does finished work twice.

Pausing: a step whose agent has `hitl` records a pending checkpoint with its completion. Its output is not
released to later steps until the checkpoint is decided; the scheduler starts nothing that needs it (parallel:
siblings already running finish first), then the run is marked `paused` and the delivery is acked. Nothing waits
for the person: the decision publishes the request again, and whichever executor takes it goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.executor import metrics
from services.executor.domain.plan import (
    DefinitionError,
    Plan,
    StepSpec,
    build_plan,
    delegation_order,
    run_output,
    step_prompt,
)
from services.executor.events import Pending, Reserved, RunEvents
from services.executor.models import Checkpoint, Execution, ExecutionStep
from services.executor.repository import ExecutionRepository, try_lock_run, unlock_run
from services.executor.runtime import crewai_env  # noqa: F401  (CrewAI switches, before anything imports it)
from services.executor.sends import Sends
from shared.contracts import BUILTIN_TOOL_NAMES, TERMINAL_STATUSES
from shared.db import transaction
from shared.messaging import RunQueuedV1, RunRequestV1
from shared.messaging.messages import EventType

log = logging.getLogger("echoai.executor.runner")

# "unannounced": finished, but RunFinished could not be published yet (the delivery goes back and retries it).
Outcome = Literal["finished", "unannounced", "paused", "orphan"]
StepFn = Callable[[StepSpec, str, list[dict[str, Any]], Callable[[str, dict[str, Any], str], None] | None], str]
MAX_ERROR = 4000
LOCK_POLL_SECONDS = 0.5


class StepError(Exception):
    def __init__(self, step: StepSpec, error: str):
        super().__init__(error)
        self.step = step
        self.error = error


class Cancelled(Exception):
    pass


class AwaitingDecision(Exception):
    """A step's output waits for a person: nothing that needs it may start."""


def _drop_result(future: asyncio.Future[Any]) -> None:
    """The answer of a model call whose run was cancelled meanwhile: read (so nothing warns) and dropped."""
    if not future.cancelled():
        future.exception()


def load_step_fn() -> StepFn:
    """The CrewAI side, imported on first use (it takes seconds): keep it out of the API's import path."""
    module = importlib.import_module("services.executor.runtime.crew")
    module.prepare()
    return module.run_step  # type: ignore[no-any-return]


@dataclass
class RunContext:
    request: RunRequestV1
    plan: Plan
    attempt: int
    # Outputs later steps may read (a checkpointed step's only once approved or edited) ...
    outputs: dict[str, str] = field(default_factory=dict)
    # ... and steps that completed but wait for a decision.
    awaiting: set[str] = field(default_factory=set)

    @property
    def run_id(self) -> uuid.UUID:
        return self.request.run_id

    @property
    def user_id(self) -> uuid.UUID:
        return self.request.user_id


class Runner:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        events: RunEvents,
        pool: Executor,
        default_llm: str,
        step_fn: StepFn | None = None,
        sends: Sends | None = None,
    ):
        self.engine = engine
        self.sends = sends
        self.sessionmaker = sessionmaker
        self.events = events
        self.pool = pool
        self.default_llm = default_llm
        self._step_fn = step_fn
        self._stops: dict[uuid.UUID, asyncio.Event] = {}
        self.active: dict[uuid.UUID, asyncio.Task[Any]] = {}

    @property
    def step_fn(self) -> StepFn:
        if self._step_fn is None:
            self._step_fn = load_step_fn()
        return self._step_fn

    def note_cancel(self, run_id: uuid.UUID) -> None:
        """A cancel arrived over the control exchange: the run stops waiting for its in-flight model call and
        ends at this step boundary."""
        stop = self._stops.get(run_id)
        if stop is not None:
            stop.set()

    # --- one delivery ---------------------------------------------------------------------------------------
    async def handle(self, request: RunRequestV1 | RunQueuedV1, attempt: int) -> Outcome:
        run_id = request.run_id
        if self.sends is not None:
            await self.sends.ended(run_id)  # its send is still going on in this process: wait without a statement
        async with self.engine.connect() as conn:
            # Autocommit: the run lock is a session lock, and waiting for the send lock needs no transaction.
            lock_conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            while not await try_lock_run(lock_conn, run_id):
                # Another delivery runs it (a duplicate, or the copy a broker reconnect handed back): wait until
                # it ends; if its executor dies instead, PostgreSQL frees the lock and this copy takes over.
                latest = await self._load(run_id)
                if latest is None:
                    log.warning("run request %s has no execution row (its send was rolled back); dropped", run_id)
                    return "orphan"
                if latest.status not in ("queued", "running"):
                    return await self._settled(latest)
                await asyncio.sleep(LOCK_POLL_SECONDS)
            task = asyncio.current_task()
            if task is not None:
                self.active[run_id] = task
            self._stops[run_id] = asyncio.Event()
            metrics.RUNS_IN_FLIGHT.inc()
            try:
                return await self._run(request, attempt)
            finally:
                metrics.RUNS_IN_FLIGHT.dec()
                self.active.pop(run_id, None)
                self._stops.pop(run_id, None)
                with contextlib.suppress(Exception):
                    await asyncio.shield(unlock_run(lock_conn, run_id))

    async def _settled(self, row: Execution) -> Outcome:
        """A delivery for a run that is no longer runnable; re-announce its end if that never went out."""
        if row.status in TERMINAL_STATUSES:
            if not row.finish_published and not await self.events.announce_end(row):
                return "unannounced"
            return "finished"
        return "paused"

    def _context(self, request: RunRequestV1, attempt: int) -> tuple[RunContext | None, str | None]:
        """The run's plan, or why its definition cannot run."""
        try:
            plan = build_plan(
                request.definition,
                message=request.message,
                inputs=request.inputs,
                default_llm=self.default_llm,
                extra_tool_ids=request.session_tool_ids,
            )
        except DefinitionError as exc:
            return None, f"The workflow definition cannot run: {exc}"
        return RunContext(request, plan, attempt), None

    async def _run(self, message: RunRequestV1 | RunQueuedV1, attempt: int) -> Outcome:
        run_id = message.run_id
        # A RunQueuedV1's request is the row's: the claim reads it (still one statement for a fresh run), and the
        # send has ended by then (`try_lock_run` waited for its lock).
        queued = isinstance(message, RunQueuedV1)
        ctx, broken = (None, None) if isinstance(message, RunQueuedV1) else self._context(message, attempt)
        claimed: list[Execution] = []

        async def claim(repo: ExecutionRepository) -> Reserved:
            """Claim the run, read what earlier deliveries recorded, and take the seq of the opening event, all
            in one transaction (one statement for a fresh run)."""
            nonlocal ctx, broken
            # A queued run's definition was checked by its send, so its opening event is counted on before it is
            # read; should it not build after all, that event still goes out (see `_unreadable`).
            live = self.events.live and (queued or ctx is not None)
            if queued:
                got = await repo.claim_with_request(run_id, attempt, seqs=1 if live else 0)
                if got is None:
                    return Reserved([], None)
                row, before, stored = got
                ctx, broken = self._stored_context(stored, attempt)
            else:
                plain = await repo.claim(run_id, attempt, seqs=1 if live else 0)
                if plain is None:
                    return Reserved([], None)
                row, before = plain
            claimed.append(row)
            if row.cancel_requested:
                return Reserved([], None)
            was_queued = before == "queued"
            if ctx is None:
                # Only a queued run gets here with a seq taken: it is spent on the opening event, so no gap.
                return Reserved([self._unreadable(attempt, was_queued)], row.last_seq) if live else Reserved([], None)
            # A run still queued without a decision to resume from has never run: nothing can be recorded yet.
            recorded, checkpoints = False, []
            if not was_queued or ctx.request.resume is not None:
                steps = await repo.steps(run_id)
                checkpoints = list(await repo.checkpoints(run_id))
                recorded = self._apply_recorded(ctx, steps, checkpoints)
            opening = self._opening(ctx, was_queued=was_queued, recorded=recorded, checkpoints=checkpoints)
            return Reserved([opening], row.last_seq if live else None)

        # A first delivery of a new run is one statement (see `claim`); anything else reads what was recorded in
        # the claim's transaction.
        fresh = attempt == 1 and (isinstance(message, RunQueuedV1) or message.resume is None)
        await self.events.commit(run_id, message.user_id, claim, autocommit=fresh)
        if not claimed:
            latest = await self._load(run_id)
            if latest is None:
                log.info("run %s has no execution row (its send failed and was answered so); dropped", run_id)
                return "orphan"
            return await self._settled(latest)
        if claimed[0].cancel_requested:
            return await self._end(run_id, "cancelled", error=None, output=None)
        if ctx is None:
            return await self._end(run_id, "failed", error=broken)
        while True:
            try:
                order = await self._schedule(ctx)
            except StepError as exc:
                return await self._end(run_id, "failed", error=f"{exc.step.name}: {exc.error}"[:MAX_ERROR])
            except Cancelled:
                return await self._end(run_id, "cancelled")
            except AwaitingDecision:
                state = await self._pause(ctx)
                if state == "paused":
                    self.events.forget(run_id)  # nothing of the run stays in this process while it waits
                    return "paused"
                if state == "stop":
                    return await self._stopped(run_id)
                await self._restore(ctx)  # decided while siblings finished: go on with what was decided
                continue
            return await self._end(run_id, "completed", output=run_output(ctx.plan, ctx.outputs, order))

    async def _schedule(self, ctx: RunContext) -> list[str]:
        if ctx.plan.execution_model == "parallel":
            return await self._parallel(ctx)
        if ctx.plan.execution_model == "hierarchical":
            return await self._hierarchical(ctx)
        return await self._sequential(ctx, list(ctx.plan.steps), [])

    async def _restore(self, ctx: RunContext) -> bool:
        async with transaction(self.sessionmaker) as session:
            repo = ExecutionRepository(session)
            steps = await repo.steps(ctx.run_id)
            checkpoints = await repo.checkpoints(ctx.run_id)
        return self._apply_recorded(ctx, steps, checkpoints)

    @staticmethod
    def _apply_recorded(ctx: RunContext, steps: Sequence[ExecutionStep], checkpoints: Sequence[Checkpoint]) -> bool:
        """What earlier deliveries did: completed steps (their outputs released once their checkpoint, if any, is
        approved or edited; an edit is stored as the step's output) and the steps still waiting for a person.
        Returns whether anything was recorded at all."""
        decisions = {c.step_id: c.status for c in checkpoints}
        ctx.outputs.clear()
        ctx.awaiting.clear()
        for step in steps:
            if step.status != "completed":
                continue
            decided = decisions.get(step.step_id, "approved")
            if decided in ("approved", "edited"):
                ctx.outputs[step.step_id] = step.output or ""
            elif decided == "pending":
                ctx.awaiting.add(step.step_id)
        return bool(steps)

    async def _pause(self, ctx: RunContext) -> Literal["paused", "continue", "stop"]:
        """Nothing else can start: pause for the pending checkpoints, with one `run_paused` each (in the same
        transaction). Under the run's row lock, so a decision is either seen here or sees the pause."""
        state: Literal["paused", "continue", "stop"] = "stop"

        async def pause(repo: ExecutionRepository) -> list[Pending]:
            nonlocal state
            run = await repo.lock(ctx.run_id)
            if run is None or run.status != "running" or run.cancel_requested:
                state = "stop"
                return []
            pending = await repo.checkpoints(ctx.run_id, status="pending")
            if not pending:
                state = "continue"
                return []
            await repo.pause(ctx.run_id)
            state = "paused"
            return [
                Pending(
                    "run_paused",
                    step_id=c.step_id,
                    agent_id=c.agent_id,
                    agent_name=c.agent_name,
                    data={
                        "checkpoint_id": str(c.checkpoint_id),
                        "step_id": c.step_id,
                        "agent_id": c.agent_id,
                        "agent_name": c.agent_name,
                        "output": c.output,
                        "expires_at": c.expires_at.isoformat() if c.expires_at else None,
                        "pending": len(pending),
                    },
                )
                for c in pending
            ]

        await self.events.commit(ctx.run_id, ctx.user_id, pause)
        return state

    async def _stopped(self, run_id: uuid.UUID) -> Outcome:
        """The run cannot go on: cancelled (it ends here), or it was ended meanwhile (a rejection)."""
        latest = await self._load(run_id)
        if latest is None:
            return "orphan"
        if latest.status == "running" and latest.cancel_requested:
            return await self._end(run_id, "cancelled")
        return await self._settled(latest)

    async def _load(self, run_id: uuid.UUID) -> Execution | None:
        async with transaction(self.sessionmaker) as session:
            return await ExecutionRepository(session).get(run_id)

    def _opening(
        self, ctx: RunContext, *, was_queued: bool, recorded: bool, checkpoints: Sequence[Checkpoint]
    ) -> Pending:
        """`run_started` for a fresh run; `run_resumed` after a decision or for a redelivered one."""
        resume = ctx.request.resume
        if was_queued and resume is not None:
            data: dict[str, Any] = {
                "reason": resume.reason,
                "checkpoint_id": str(resume.checkpoint_id),
                "by": resume.decided_by,
            }
            edited = next((c for c in checkpoints if c.checkpoint_id == resume.checkpoint_id), None)
            if resume.reason == "edited" and edited is not None:
                # Followers keep the step's effective output: the edited text replaces what the model said.
                data.update(step_id=edited.step_id, output=ctx.outputs.get(edited.step_id, ""))
            return Pending("run_resumed", data=data)
        if was_queued and not recorded:
            return Pending("run_started", data=self._started_data(ctx))
        return Pending("run_resumed", data={"reason": "redelivered", "attempt": ctx.attempt})

    def _started_data(self, ctx: RunContext) -> dict[str, Any]:
        return {
            "workflow_id": str(ctx.request.workflow_id),
            "execution_model": ctx.plan.execution_model,
            "attempt": ctx.attempt,
            "steps": [{"step_id": s.step_id, "agent_id": s.agent_id, "agent_name": s.name} for s in ctx.plan.all_steps],
        }

    def _stored_context(self, stored: dict[str, Any], attempt: int) -> tuple[RunContext | None, str | None]:
        try:
            request = RunRequestV1.model_validate(stored)
        except ValidationError as exc:
            return None, f"The run's stored request cannot be read: {exc.errors()[:1]}"
        return self._context(request, attempt)

    @staticmethod
    def _unreadable(attempt: int, was_queued: bool) -> Pending:
        """The opening event of a run whose stored request does not build; `run_failed` follows with why."""
        if was_queued:
            return Pending("run_started", data={"attempt": attempt, "steps": []})
        return Pending("run_resumed", data={"reason": "redelivered", "attempt": attempt})

    async def _end(
        self, run_id: uuid.UUID, status: str, *, output: str | None = None, error: str | None = None
    ) -> Outcome:
        """Commit the terminal state first; only then the terminal event and RunFinished go out."""
        # Completing is one statement; any other end also closes the run's checkpoints with it.
        maker = self.events.autocommit if status == "completed" else self.sessionmaker
        async with transaction(maker) as session:
            repo = ExecutionRepository(session)
            row = await repo.finish(
                run_id, status, output=output, error=error, from_statuses=("running",), bump_seq=self.events.enabled
            )
            if row is not None and status != "completed":  # a run completes only with every checkpoint decided
                await repo.close_checkpoints(run_id)
        if row is None:
            latest = await self._load(run_id)
            return await self._settled(latest) if latest is not None else "orphan"
        metrics.run_ended(row)
        return "finished" if await self.events.announce_end(row) else "unannounced"

    async def _emit(
        self, ctx: RunContext, type_: EventType, step: StepSpec | None = None, *, data: dict[str, Any]
    ) -> None:
        await self.events.emit(
            ctx.run_id,
            ctx.user_id,
            type_,
            step_id=step.step_id if step else None,
            agent_id=step.agent_id if step else None,
            agent_name=step.name if step else None,
            data=data,
        )

    def _stop_asked(self, ctx: RunContext) -> bool:
        """A cancel nudge reached this executor: the run stops at this step boundary without asking the database."""
        stop = self._stops.get(ctx.run_id)
        return stop is not None and stop.is_set()

    # --- schedulers -----------------------------------------------------------------------------------------
    async def _sequential(self, ctx: RunContext, steps: list[StepSpec], earlier: list[StepSpec]) -> list[str]:
        done = list(earlier)
        for step in steps:
            await self._step(ctx, step, [(s, ctx.outputs[s.step_id]) for s in done])
            done.append(step)
        return [s.step_id for s in done]

    async def _hierarchical(self, ctx: RunContext) -> list[str]:
        manager = ctx.plan.manager
        assert manager is not None
        plan_text = await self._step(ctx, manager, [])
        order = delegation_order(plan_text, ctx.plan.steps)
        return await self._sequential(ctx, order, [manager])

    async def _parallel(self, ctx: RunContext) -> list[str]:
        """A DAG by `connections`: every step whose predecessors are done starts at once."""
        pending = {s.step_id: s for s in ctx.plan.steps}
        running: dict[asyncio.Task[str], StepSpec] = {}
        finished: list[str] = []
        failure: StepError | None = None
        cancelled = awaiting = False
        try:
            while pending or running:
                # A step waiting for a person holds back everything new, not just what depends on it.
                if failure is None and not cancelled and not awaiting:
                    for step in [s for s in pending.values() if all(d in ctx.outputs for d in s.depends_on)]:
                        del pending[step.step_id]
                        earlier = [(ctx.plan.step(d), ctx.outputs[d]) for d in step.depends_on]
                        running[asyncio.create_task(self._step(ctx, step, earlier))] = step
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    step = running.pop(task)
                    try:
                        task.result()
                        finished.append(step.step_id)
                    except StepError as exc:
                        failure = failure or exc
                    except Cancelled:
                        cancelled = True
                    except AwaitingDecision:
                        awaiting = True
        except BaseException:
            # Not a step's fault (database away, shutdown): stop the siblings before the run is handed back.
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        # In-flight steps were allowed to finish (a thread cannot be interrupted); now report the outcome.
        if failure is not None:
            raise failure
        if cancelled:
            raise Cancelled
        if awaiting or pending:
            raise AwaitingDecision
        return finished

    # --- one step -------------------------------------------------------------------------------------------
    def _tool_specs(self, ctx: RunContext, step: StepSpec) -> list[dict[str, Any]]:
        specs = []
        for ref in step.tool_ids:
            spec = ctx.request.tools.get(ref)
            if spec is None and ref in BUILTIN_TOOL_NAMES:
                spec = {"tool_id": ref, "name": ref, "tool_type": "builtin", "definition": {}}
            if spec is None:
                log.warning("run %s: tool %s of step %s was not resolved; skipped", ctx.run_id, ref, step.step_id)
                continue
            specs.append(spec)
        return specs

    async def _step(self, ctx: RunContext, step: StepSpec, earlier: list[tuple[StepSpec, str]]) -> str:
        """One durable step: recorded `running` (after the stop check, the step boundary), run in a worker
        thread, recorded `completed` (with its checkpoint, if its agent has `hitl`) or `failed`; each record
        commits with the seqs of its events."""
        if step.step_id in ctx.awaiting:
            raise AwaitingDecision
        if step.step_id in ctx.outputs:
            return ctx.outputs[step.step_id]  # finished on an earlier delivery: never again
        who = {"step_id": step.step_id, "agent_id": step.agent_id, "agent_name": step.name}

        async def start(repo: ExecutionRepository) -> Reserved:
            if self._stop_asked(ctx):
                raise Cancelled
            live = self.events.live
            completed, last = await repo.open_step(
                ctx.run_id, step_id=step.step_id, agent_id=step.agent_id, agent_name=step.name,
                position=step.position, attempt=ctx.attempt, seqs=1 if live else 0,
            )  # fmt: skip
            if completed:
                raise RuntimeError(f"step {step.step_id} of run {ctx.run_id} completed elsewhere meanwhile")
            if last is None:
                raise Cancelled
            event = Pending("step_started", **who, data={"agent_name": step.name, "role": step.role})
            return Reserved([event], last if live else None)

        loop = asyncio.get_running_loop()
        reported: list[Future[None]] = []

        def observe(tool: str, args: dict[str, Any], result: str) -> None:
            # Called in the worker thread while CrewAI runs the tool.
            data = {"kind": "tool", "tool": tool, "input": args, "output": result[:MAX_ERROR]}
            reported.append(asyncio.run_coroutine_threadsafe(self._emit(ctx, "step_output", step, data=data), loop))

        # The step's start (one statement) and its `step_started` go out before the model is called: once the row
        # says `running`, its event follows at once, not behind the model's first milliseconds of pure-Python work
        # competing for the GIL (an executor killed in between would leave that seq unsent). A start the boundary
        # refuses (cancelled, ended meanwhile) raises Cancelled here, before any model call.
        await self.events.commit(ctx.run_id, ctx.user_id, start, autocommit=True)
        began = time.perf_counter()
        work: asyncio.Future[str] = loop.run_in_executor(
            self.pool, self.step_fn, step, step_prompt(step, earlier), self._tool_specs(ctx, step), observe
        )
        try:
            output = await self._call_model(ctx, work)
        except Cancelled:
            await self._flush(reported)
            await self._discard(ctx, step)
            raise
        except Exception as exc:
            error = (str(exc) or type(exc).__name__)[:MAX_ERROR]
            log.info("run %s step %s failed: %s", ctx.run_id, step.step_id, error)
            await self._flush(reported)

            async def fail(repo: ExecutionRepository) -> list[Pending]:
                await repo.end_step(ctx.run_id, step.step_id, "failed", error=error)
                return [Pending("step_failed", **who, data={"error": error, "agent_name": step.name})]

            await self.events.commit(ctx.run_id, ctx.user_id, fail)
            raise StepError(step, error) from exc
        finally:
            metrics.STEP_DURATION.observe(time.perf_counter() - began)
        await self._flush(reported)
        stopped = False

        async def complete(repo: ExecutionRepository) -> Reserved:
            nonlocal stopped
            # Cancelled while the model worked: its answer is discarded, never recorded as completed.
            if self._stop_asked(ctx):
                stopped = True
                await repo.end_step(ctx.run_id, step.step_id, "cancelled")
                return Reserved([], None)
            live = self.events.live
            last = await repo.close_step(ctx.run_id, step.step_id, output, seqs=2 if live else 0)
            if last is None:  # the database said stop: the step is recorded `cancelled`
                stopped = True
                return Reserved([], None)
            if not live:
                last = None
            if step.hitl is not None:
                await repo.add_checkpoint(
                    run_id=ctx.run_id, user_id=ctx.user_id, workflow_id=ctx.request.workflow_id,
                    step_id=step.step_id, agent_id=step.agent_id, agent_name=step.name, output=output,
                    timeout_s=step.hitl.timeout_s, on_timeout=step.hitl.on_timeout,
                )  # fmt: skip
            return Reserved(
                [
                    Pending("step_output", **who, data={"kind": "answer", "output": output}),
                    Pending("step_completed", **who, data={"output": output, "agent_name": step.name}),
                ],
                last,
            )

        # One statement needs no transaction; a checkpoint recorded with the step does.
        await self.events.commit(ctx.run_id, ctx.user_id, complete, autocommit=step.hitl is None)
        if stopped:
            raise Cancelled
        if step.hitl is not None:
            ctx.awaiting.add(step.step_id)
            raise AwaitingDecision
        ctx.outputs[step.step_id] = output
        return output

    async def _call_model(self, ctx: RunContext, work: asyncio.Future[str]) -> str:
        """Wait for the step's CrewAI work (in a worker thread). A cancel nudge stops the wait at once: the thread
        cannot be interrupted, so it finishes on its own and its answer is dropped."""
        stop = self._stops.get(ctx.run_id)
        if stop is None:
            return await work
        stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([work, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not work.done():
            work.add_done_callback(_drop_result)
            raise Cancelled
        return work.result()

    async def _discard(self, ctx: RunContext, step: StepSpec) -> None:
        async def discard(repo: ExecutionRepository) -> list[Pending]:
            await repo.end_step(ctx.run_id, step.step_id, "cancelled")
            return []

        await self.events.commit(ctx.run_id, ctx.user_id, discard)

    @staticmethod
    async def _flush(reported: list[Future[None]]) -> None:
        """Tool events go out before the step's own completion event."""
        if reported:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in reported), return_exceptions=True)

    # --- failed deliveries ----------------------------------------------------------------------------------
    async def note_error(self, run_id: uuid.UUID, exc: BaseException) -> None:
        """Keep why a delivery could not be processed; never raises (the database may be what failed)."""
        with contextlib.suppress(Exception):
            async with transaction(self.sessionmaker) as session:
                await ExecutionRepository(session).note_error(run_id, f"{type(exc).__name__}: {exc}"[:MAX_ERROR])

    async def dead_lettered(self, request: RunRequestV1 | RunQueuedV1, reason: str, deliveries: int) -> None:
        async with transaction(self.sessionmaker) as session:
            repo = ExecutionRepository(session)
            current = await repo.get(request.run_id)
            last = f" The last attempt failed with: {current.error}" if current and current.error else ""
            error = (
                f"The run was abandoned after {deliveries} delivery attempts: each time its executor stopped or "
                f"failed before the run finished (dead-lettered: {reason}).{last}"
            )
            row = await repo.finish(request.run_id, "failed", error=error, bump_seq=self.events.enabled)
            if row is not None:
                await repo.fail_running_steps(request.run_id, "The executor stopped during this step.")
                await repo.close_checkpoints(request.run_id)
        if row is None:
            latest = await self._load(request.run_id)
            if latest is not None and latest.status in TERMINAL_STATUSES and not latest.finish_published:
                await self.events.announce_end(latest)
            return
        log.warning("run %s failed: %s", request.run_id, error)
        metrics.run_ended(row)
        await self.events.announce_end(row)
