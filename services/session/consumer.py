"""Run outcomes from the broker into the chat history.

Every run that ends publishes a persistent `RunFinishedV1`; its session (if any) gets the answer as an
`assistant` message, or a `system` message saying why there is none, and the run id. RabbitMQ delivers at
least once, so the append is idempotent per (run_id, role) in one SQL statement. A delivery is acked only
after the commit; a body nobody can read is rejected for good; while PostgreSQL is away it goes back to the
queue after a short pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractIncomingMessage
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.session.service import SessionService
from shared.cache import Cache
from shared.db import transaction
from shared.messaging.broker import Broker
from shared.messaging.delivery import delivery_attempt, settle
from shared.messaging.messages import RunFinishedV1, decode_message

log = logging.getLogger("echoai.session.consumer")

RETRY_DELAY_SECONDS = 1.0
# A delivery that fails for a reason other than an outage is retried this often before it is dropped (logged).
MAX_DELIVERIES_ON_ERROR = 5
PREFETCH = 16
WATCH_INTERVAL_SECONDS = 5.0
# SQLSTATE classes that mean "try again later": connection, insufficient resources, operator intervention,
# plus serialization failure and deadlock.
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57", "40001", "40P01")


async def start(app: FastAPI) -> None:
    broker: Broker = app.state.broker
    spec = broker.topology.session_run_finished
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    cache: Cache = app.state.cache

    async def on_message(message: AbstractIncomingMessage) -> None:
        await handle(maker, cache, message)

    async def subscribe() -> None:
        await broker.consume(spec.name, on_message, prefetch=PREFETCH, arguments=spec.arguments)
        log.info("consuming run outcomes from %s", spec.name)

    # Watching first: should this first subscription fail, the watch subscribes later.
    app.state.run_outcome_watch = asyncio.create_task(_watch(broker, spec.name, subscribe), name="run-outcome-watch")
    await subscribe()


async def stop(app: FastAPI) -> None:
    task: asyncio.Task[None] | None = getattr(app.state, "run_outcome_watch", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _watch(broker: Broker, queue: str, subscribe: Callable[[], Awaitable[None]]) -> None:
    """Subscribe again when the queue has lost every consumer while the connection is up.

    aio-pika's robust connection restores consumers after a reconnect, but the restore can fail for good when
    the broker accepts connections before its quorum queue is ready again; the answers would then wait in the
    queue until a restart of this service. (With several replicas one of them consuming is enough.)
    """
    while True:
        await asyncio.sleep(WATCH_INTERVAL_SECONDS)
        if not broker.connected or broker.connection is None:
            continue
        try:
            channel = await broker.connection.channel()
            try:
                declared = await channel.declare_queue(queue, passive=True)
                consumers = declared.declaration_result.consumer_count
            finally:
                await channel.close()
            if consumers == 0:
                log.warning("the run outcome queue has no consumer after a reconnect; subscribing again")
                await subscribe()
        except Exception as exc:  # the broker is coming back: try again next time
            log.info("could not check the run outcome consumer (%s)", type(exc).__name__)


def _sqlstate(error: BaseException) -> str | None:
    seen: BaseException | None = error
    while seen is not None:
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str):
            return state
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def is_transient(error: BaseException) -> bool:
    """An outage (PostgreSQL unreachable, restarting, overloaded), as opposed to a message we cannot store."""
    if isinstance(error, OSError | TimeoutError | sa_exc.TimeoutError):
        return True
    if isinstance(error, sa_exc.InterfaceError | sa_exc.OperationalError):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    state = _sqlstate(error)
    return state is not None and state.startswith(_TRANSIENT_SQLSTATE_PREFIXES)


async def handle(maker: async_sessionmaker[AsyncSession], cache: Cache, message: AbstractIncomingMessage) -> None:
    try:
        event = decode_message(message.body)
    except ValidationError as exc:
        log.error(
            "rejecting a run outcome that cannot be read",
            extra={"fields": {"error": str(exc)[:500], "body": message.body[:200].decode(errors="replace")}},
        )
        await settle(message, "reject")
        return
    if not isinstance(event, RunFinishedV1):
        log.error("rejecting a %s message on the run outcome queue", event.kind)
        await settle(message, "reject")
        return
    if event.session_id is None:
        await settle(message)
        return
    fields = {"run_id": str(event.run_id), "session_id": str(event.session_id), "status": event.status}
    try:
        async with transaction(maker) as db:
            changed = await SessionService(db, cache).record_run_outcome(event)
    except Exception as exc:
        transient = is_transient(exc)
        if transient or delivery_attempt(message) < MAX_DELIVERIES_ON_ERROR:
            reason = type(exc).__name__
            log.warning("could not store a run outcome (%s); back to the queue", reason, extra={"fields": fields})
            await asyncio.sleep(RETRY_DELAY_SECONDS)
            await settle(message, "requeue")
        else:
            log.exception("dropping a run outcome after %d failures", MAX_DELIVERIES_ON_ERROR, extra={"fields": fields})
            await settle(message, "reject")
        return
    log.info("run outcome %s", "stored" if changed else "already stored or session gone", extra={"fields": fields})
    await settle(message)
