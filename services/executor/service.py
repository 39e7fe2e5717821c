"""Runs as the API sees them: send (durably queue a run), read, list, cancel. Never commits: the request's
DbSession does, and broker work that must follow the commit is registered with `after_commit`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from services.executor.clients import Upstream
from services.executor.domain.plan import DefinitionError, Plan, build_plan
from services.executor.events import RunEvents
from services.executor.models import Execution
from services.executor.repository import ExecutionRepository
from services.executor.schemas import SendIn, SendOut
from shared.auth import CurrentUser
from shared.contracts import BUILTIN_TOOL_NAMES, RUN_STATUSES
from shared.db import after_commit, utcnow
from shared.errors import BadRequest, Conflict, NotFound, ServiceUnavailable, Unprocessable
from shared.messaging import Broker, RunControlV1, RunRequestV1
from shared.messaging.topology import RUN_REQUESTS_KEY
from shared.pagination import decode_cursor, encode_cursor
from shared.settings import Settings

log = logging.getLogger("echoai.executor.service")

# Well inside the contract's 5 s: the upstream calls before the publish take milliseconds.
SEND_PUBLISH_TIMEOUT = 3.0


def _broker_down() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The message broker is unreachable, so no run was started; try again in a moment.", error="broker_unavailable"
    )


def _merge_config(definition: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
    if not config:
        return definition
    merged = {**definition, **config}
    if isinstance(definition.get("headers"), dict) and isinstance(config.get("headers"), dict):
        merged["headers"] = {**definition["headers"], **config["headers"]}
    return merged


async def resolve_tools(
    upstream: Upstream,
    definition: dict[str, Any],
    plan: Plan,
    selected: Sequence[str],
    configs: dict[str, dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """A snapshot of every tool the run may use, keyed by the reference the definition or session uses."""
    own = {t for a in definition.get("agents") or [] if isinstance(a, dict) for t in a.get("tools") or []}
    refs = list(dict.fromkeys(t for s in plan.all_steps for t in s.tool_ids))

    async def resolve(ref: str) -> tuple[str, dict[str, Any] | None]:
        if ref in BUILTIN_TOOL_NAMES:
            spec: dict[str, Any] | None = {"tool_id": ref, "name": ref, "tool_type": "builtin", "definition": {}}
        else:
            spec = await upstream.tool(ref)
        if spec is None:
            if ref in own:
                raise Unprocessable(
                    f"The workflow uses tool '{ref}', which does not exist (or is not yours); "
                    "remove it from the agent or create the tool.",
                    error="unknown_tool",
                )
            log.warning("session tool %s no longer exists; the run goes without it", ref)
            return ref, None
        config = configs.get(ref) or configs.get(str(spec.get("tool_id")))
        snapshot = {
            "tool_id": str(spec.get("tool_id") or ref),
            "name": spec.get("name") or ref,
            "tool_type": spec.get("tool_type") or "custom",
            "definition": _merge_config(dict(spec.get("definition") or {}), config),
        }
        return ref, snapshot

    resolved = await asyncio.gather(*(resolve(ref) for ref in refs))
    return {ref: spec for ref, spec in resolved if spec is not None}


async def send(
    db: AsyncSession, upstream: Upstream, broker: Broker, settings: Settings, user: CurrentUser, body: SendIn
) -> SendOut:
    if not broker.connected:
        raise _broker_down()
    workflow = await upstream.workflow(body.workflow_id)
    definition = workflow.get("definition")
    if not isinstance(definition, dict):
        raise Unprocessable("The workflow has no definition to run; save one first.", error="invalid_definition")
    workflow_id = uuid.UUID(str(workflow.get("workflow_id") or body.workflow_id))
    inputs = dict(body.inputs)
    selected: list[str] = []
    configs: dict[str, dict[str, Any]] = {}
    if body.session_id is not None:
        session = await upstream.session(body.session_id)
        selected = [str(t) for t in session.get("selected_tool_ids") or []]
        variables = session.get("variables")
        if isinstance(variables, dict):
            inputs = {**variables, **inputs}  # the request's inputs win over the session's variables
        configs = await upstream.tool_configs(body.session_id)
    try:
        plan = build_plan(
            definition,
            message=body.message,
            inputs=inputs,
            default_llm=settings.default_llm,
            extra_tool_ids=selected,
        )
    except DefinitionError as exc:
        raise Unprocessable(str(exc), error="invalid_definition") from None
    tools = await resolve_tools(upstream, definition, plan, selected, configs)

    run_id = uuid.uuid4()
    request = RunRequestV1(
        run_id=run_id,
        workflow_id=workflow_id,
        user_id=user.user_id,
        session_id=body.session_id,
        message=body.message,
        inputs=inputs,
        definition=definition,
        requested_at=utcnow(),
        tools=tools,
        session_tool_ids=[t for t in selected if t in tools],
    )
    message_id: str | None = None
    if body.session_id is not None:
        added = await upstream.add_message(
            body.session_id, content=body.message, run_id=run_id, metadata={"workflow_id": str(workflow_id)}
        )
        message_id = str(added.get("message_id")) if added.get("message_id") else None
    repo = ExecutionRepository(db)
    try:
        try:
            # The consumer waits on this lock, so it never sees the request before the row is committed.
            await repo.lock_send(run_id)
            await repo.insert(
                run_id=run_id,
                workflow_id=workflow_id,
                user_id=user.user_id,
                session_id=body.session_id,
                request=request.model_dump(mode="json"),
            )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("cannot record run %s: %s", run_id, type(exc).__name__)
            detail = "The database is unreachable, so no run was started; try again in a moment."
            raise ServiceUnavailable(detail, error="database_unavailable") from None
        if not broker.connected:
            raise _broker_down()
        await broker.publish(
            broker.topology.runs_exchange,
            RUN_REQUESTS_KEY,
            request,
            persistent=True,
            confirm=True,
            mandatory=True,
            timeout=SEND_PUBLISH_TIMEOUT,
        )
    except BaseException:
        # Nothing half-made stays behind: the row rolls back with the transaction, the message is taken back.
        if body.session_id is not None and message_id is not None:
            with contextlib.suppress(Exception):
                if not await asyncio.shield(upstream.remove_message(body.session_id, message_id)):
                    log.warning("could not take back message %s of session %s", message_id, body.session_id)
        raise
    if body.session_id is not None:
        session_id = body.session_id

        async def record() -> None:
            await upstream.record_run(session_id, run_id)

        after_commit(db, record)
    return SendOut(run_id=run_id, workflow_id=workflow_id, session_id=body.session_id)


async def get(db: AsyncSession, user: CurrentUser, run_id: uuid.UUID) -> Execution:
    row = await ExecutionRepository(db).get(run_id, user.user_id)
    if row is None:
        raise NotFound(f"Run {run_id} does not exist (or is not yours).", error="run_not_found")
    return row


async def list_runs(
    db: AsyncSession,
    user: CurrentUser,
    *,
    workflow_id: uuid.UUID | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Execution], str | None]:
    if status is not None and status not in RUN_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(RUN_STATUSES)}.", error="invalid_status")
    after = None
    data = decode_cursor(cursor)
    if data is not None:
        try:
            after = (datetime.fromisoformat(str(data["c"])), uuid.UUID(str(data["r"])))
        except (KeyError, ValueError):
            raise BadRequest(
                "The cursor is not one this API handed out; start again without `cursor`.", error="invalid_cursor"
            ) from None
    rows = await ExecutionRepository(db).list(
        user.user_id, workflow_id=workflow_id, status=status, after=after, limit=limit + 1
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor({"c": last.created_at.isoformat(), "r": str(last.run_id)})
    return rows, next_cursor


async def cancel(
    db: AsyncSession, broker: Broker, events: RunEvents, user: CurrentUser, run_id: uuid.UUID
) -> Execution:
    repo = ExecutionRepository(db)
    row = await repo.request_cancel(run_id, user.user_id, bump_seq=events.enabled)
    if row is None:
        existing = await repo.get(run_id, user.user_id)
        if existing is None:
            raise NotFound(f"Run {run_id} does not exist (or is not yours).", error="run_not_found")
        raise Conflict(
            f"Run {run_id} already ended {existing.status}; there is nothing to cancel.", error="run_finished"
        )
    if row.status == "cancelled":
        # It never started (or was paused): it ends here, and this process announces it.
        finished = row

        async def announce() -> None:
            await events.announce_end(finished)

        after_commit(db, announce)
    else:

        async def notify() -> None:
            # Only a nudge: the flag in the row is what the executor checks at each step boundary.
            with contextlib.suppress(ServiceUnavailable):
                await broker.publish(
                    broker.topology.control_exchange,
                    "",
                    RunControlV1(run_id=run_id, action="cancel"),
                    persistent=False,
                    confirm=False,
                )

        after_commit(db, notify)
    return row
