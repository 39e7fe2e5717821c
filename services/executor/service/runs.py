"""`POST /workflows/chat/send`: resolve the workflow and session, publish that the run is queued, add the user
message, and record the run with its request last; undo what was done if any of it fails (so a failed send
leaves nothing behind)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.executor.clients import Upstream
from services.executor.definitions import WorkflowCache
from services.executor.domain.plan import DefinitionError, Plan, build_plan
from services.executor.schemas import SendIn, SendOut
from services.executor.sends import SendSlot
from shared.auth import CurrentUser
from shared.contracts import BUILTIN_TOOL_NAMES, WorkflowOut
from shared.db import utcnow
from shared.errors import ServiceUnavailable, Unprocessable
from shared.messaging import Broker, RunQueuedV1, RunRequestV1
from shared.messaging.topology import RUN_REQUESTS_KEY
from shared.settings import Settings

log = logging.getLogger("echoai.executor.runs")

# Well inside the 5 s a send may take: the upstream calls before the publish take milliseconds.
SEND_PUBLISH_TIMEOUT = 3.0


def broker_down() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The message broker is unreachable, so no run was started; try again in a moment.", error="broker_unavailable"
    )


async def publish_run_request(broker: Broker, request: RunRequestV1 | RunQueuedV1) -> None:
    """Persistent, confirmed and mandatory, before the caller's write is committed: if RabbitMQ does not take it,
    the caller writes nothing (or rolls back) and answers 503. Holders of the run's send lock make the consumer
    wait for their write."""
    if not broker.connected:
        raise broker_down()
    await broker.publish(
        broker.topology.runs_exchange,
        RUN_REQUESTS_KEY,
        request,
        persistent=True,
        confirm=True,
        mandatory=True,
        timeout=SEND_PUBLISH_TIMEOUT,
    )


async def _ended(future: asyncio.Future[Any]) -> None:
    """Wait for a side task to end, whatever its outcome: the caller already has the failure it answers with."""
    await asyncio.wait([future])
    if not future.cancelled():
        future.exception()


def merge_config(definition: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
    """A session's per-tool config over the tool's definition; `headers` merge key by key."""
    if not config:
        return definition
    merged = {**definition, **config}
    if isinstance(definition.get("headers"), dict) and isinstance(config.get("headers"), dict):
        merged["headers"] = {**definition["headers"], **config["headers"]}
    return merged


@dataclass
class SessionContext:
    """What a session adds to a run: its variables (defaults for `inputs`), selected tools and their configs."""

    variables: dict[str, Any] = field(default_factory=dict)
    selected: list[str] = field(default_factory=list)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)


class RunService:
    def __init__(
        self,
        slot: SendSlot,
        upstream: Upstream,
        broker: Broker,
        settings: Settings,
        user: CurrentUser,
        *,
        workflows: WorkflowCache | None = None,
    ):
        self.slot = slot
        self.repo = slot.statements
        self.workflows = workflows
        self.upstream = upstream
        self.broker = broker
        self.settings = settings
        self.user = user

    async def send(self, body: SendIn) -> SendOut:
        """Two waits side by side: publishing a `RunQueuedV1` under the send lock the request's connection
        already holds (`sends.py`; the broker's confirm is the longest round trip of a send), and reading the
        workflow (from memory when unchanged: `definitions.py`) and the session. Then the user message goes into
        the session, and last, once everything else succeeded, the row that holds the request the run will use:
        one statement that commits on its own (`SendRepository.insert`), so a send writes nothing it would have to
        roll back. A failure before it is undone: the message is taken back, and a `RunQueuedV1` that reached the
        broker finds no row and is dropped by the consumer, which looks for the row only once this send has ended
        (the send lock, and `sends.py` for a consumer in this process). Listing the run on its session waits for
        `after_answer`."""
        if not self.broker.connected:
            raise broker_down()
        run_id = self.slot.run_id
        # The publish first: resolving the workflow is mostly CPU, done while the broker confirms.
        queued = asyncio.ensure_future(self._queue(run_id))
        resolving = asyncio.ensure_future(self._resolve(body, run_id))
        try:
            workflow, request = await resolving
        except BaseException:
            resolving.cancel()
            # Neither a statement nor a publish is left in flight; the first failure is the answer.
            await _ended(queued)
            raise
        added, published = await asyncio.gather(self._add_user_message(request), queued, return_exceptions=True)
        failure = next((r for r in (added, published) if isinstance(r, BaseException)), None)
        if failure is None:
            try:
                # On the connection that holds the send lock, which it keeps until the answer is out.
                await self._record(request, workflow.name)
            except BaseException as exc:
                failure = exc
        if failure is not None:
            await self._undo(request, added if isinstance(added, uuid.UUID) else None)
            raise failure
        return SendOut(run_id=request.run_id, workflow_id=request.workflow_id, session_id=request.session_id)

    async def _queue(self, run_id: uuid.UUID) -> None:
        """Published only under the send lock (held since before the request came): a consumer that took the
        message before the lock would find no row yet and drop the run."""
        await publish_run_request(
            self.broker, RunQueuedV1(run_id=run_id, user_id=self.user.user_id, requested_at=utcnow())
        )

    # --- resolve the workflow and session ---------------------------------------------------------------------
    async def _resolve(self, body: SendIn, run_id: uuid.UUID) -> tuple[WorkflowOut, RunRequestV1]:
        """Everything the run will use, checked and snapshotted: 404/422 here, before anything is written."""
        workflow, session = await asyncio.gather(
            self._workflow(body.workflow_id), self._session_context(body.session_id)
        )
        inputs = {**session.variables, **body.inputs}  # the request's inputs win over the session's variables
        plan = self._plan(workflow.definition, body.message, inputs, session.selected)
        tools = await self._resolve_tools(workflow.definition, plan, session.configs)
        request = RunRequestV1(
            run_id=run_id,
            workflow_id=workflow.workflow_id,
            workflow_name=workflow.name,
            user_id=self.user.user_id,
            session_id=body.session_id,
            message=body.message,
            inputs=inputs,
            definition=workflow.definition,
            requested_at=utcnow(),
            tools=tools,
            session_tool_ids=[t for t in session.selected if t in tools],
        )
        return workflow, request

    async def _workflow(self, workflow_id: uuid.UUID) -> WorkflowOut:
        def fetch() -> Awaitable[WorkflowOut]:
            return self.upstream.workflow(workflow_id)

        if self.workflows is None:
            return await fetch()
        return await self.workflows.get(self.user.user_id, workflow_id, fetch)

    async def _session_context(self, session_id: uuid.UUID | None) -> SessionContext:
        if session_id is None:
            return SessionContext()
        setup = await self.upstream.run_setup(session_id)
        return SessionContext(setup.variables, list(setup.selected_tool_ids), setup.tool_configs)

    def _plan(self, definition: dict[str, Any], message: str, inputs: dict[str, Any], selected: list[str]) -> Plan:
        try:
            return build_plan(
                definition,
                message=message,
                inputs=inputs,
                default_llm=self.settings.default_llm,
                extra_tool_ids=selected,
            )
        except DefinitionError as exc:
            raise Unprocessable(str(exc), error="invalid_definition") from None

    async def _resolve_tools(
        self, definition: dict[str, Any], plan: Plan, configs: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """A snapshot of every tool the run may use, keyed by the reference the definition or session uses."""
        own = {t for a in definition.get("agents") or [] if isinstance(a, dict) for t in a.get("tools") or []}
        refs: Sequence[str] = list(dict.fromkeys(t for s in plan.all_steps for t in s.tool_ids))

        async def resolve(ref: str) -> tuple[str, dict[str, Any] | None]:
            if ref in BUILTIN_TOOL_NAMES:
                return ref, {"tool_id": ref, "name": ref, "tool_type": "builtin", "definition": {}}
            tool = await self.upstream.tool(ref)
            if tool is None:
                if ref in own:
                    raise Unprocessable(
                        f"The workflow uses tool '{ref}', which does not exist (or is not yours); "
                        "remove it from the agent or create the tool.",
                        error="unknown_tool",
                    )
                log.warning("session tool %s no longer exists; the run goes without it", ref)
                return ref, None
            config = configs.get(ref) or configs.get(str(tool.tool_id))
            return ref, {
                "tool_id": str(tool.tool_id),
                "name": tool.name,
                "tool_type": tool.tool_type,
                "definition": merge_config(dict(tool.definition), config),
            }

        resolved = await asyncio.gather(*(resolve(ref) for ref in refs))
        return {ref: spec for ref, spec in resolved if spec is not None}

    # --- record the run ---------------------------------------------------------------------------------------
    async def _add_user_message(self, request: RunRequestV1) -> uuid.UUID | None:
        """With a session, the user's message is in it when send returns."""
        if request.session_id is None:
            return None
        added = await self.upstream.add_message(
            request.session_id,
            content=request.message,
            run_id=request.run_id,
            metadata={"workflow_id": str(request.workflow_id)},
        )
        return added.message_id

    async def _record(self, request: RunRequestV1, workflow_name: str) -> None:
        await self.repo.insert(
            run_id=request.run_id,
            workflow_id=request.workflow_id,
            workflow_name=workflow_name,
            user_id=request.user_id,
            session_id=request.session_id,
            request_json=request.model_dump_json(),
        )

    # --- once the answer is out -----------------------------------------------------------------------------
    async def after_answer(self, sent: SendOut) -> None:
        """The session lists the run (`POST /sessions/{id}/run`), after the 202 has gone out: a chat send does not
        wait for a third call to the session service. Nothing is lost if this executor stops first: the run's
        outcome, appended to the session when the run ends, lists the run too. A failure is logged and never
        undoes the send (the run is queued)."""
        if sent.session_id is None:
            return
        try:
            await self.upstream.record_run(sent.session_id, sent.run_id)
        except Exception:
            log.exception("could not note run %s on session %s", sent.run_id, sent.session_id)

    # --- undo on failure --------------------------------------------------------------------------------------
    async def _undo(self, request: RunRequestV1, message_id: uuid.UUID | None) -> None:
        """Nothing half-made stays behind: the row is the last write, so none was made; the message is taken back."""
        if request.session_id is None or message_id is None:
            return
        with contextlib.suppress(Exception):
            if not await asyncio.shield(self.upstream.remove_message(request.session_id, str(message_id))):
                log.warning("could not take back message %s of session %s", message_id, request.session_id)
