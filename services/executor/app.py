from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI

from services.executor.api import chat, checkpoints, executions
from services.executor.clients import make_session
from services.executor.definitions import WorkflowCache
from services.executor.events import RunEvents
from services.executor.runtime.consumer import Consumers
from services.executor.runtime.runner import Runner
from services.executor.runtime.sweeper import Sweeper
from services.executor.sends import Sends
from shared.db import make_sessionmaker
from shared.service import create_service_app
from shared.settings import Settings

SWITCH_INTERVAL = 0.001


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    # CrewAI's steps are pure-Python work in threads; with the default 5 ms GIL switch interval every await of the
    # event loop (a send's answer, a step's commit) can wait that long behind a step. 1 ms keeps the API and the
    # run loop responsive at a small cost in switching.
    sys.setswitchinterval(SWITCH_INTERVAL)
    app.state.http = make_session()
    app.state.workflows = WorkflowCache(settings.database_url, max_bytes=settings.workflow_cache_bytes)
    app.state.workflows.start()
    app.state.events = RunEvents(
        app.state.broker,
        app.state.sessionmaker,
        enabled=settings.transparency_enabled,
        autocommit=make_sessionmaker(app.state.engine, autocommit=True),
    )
    # CrewAI is blocking: its steps run in threads, as many as runs this executor takes at once.
    pool = ThreadPoolExecutor(max_workers=settings.executor_concurrency, thread_name_prefix="echoai-step")
    app.state.sends = Sends(app.state.engine)
    app.state.runner = Runner(
        engine=app.state.engine,
        sessionmaker=app.state.sessionmaker,
        events=app.state.events,
        pool=pool,
        default_llm=settings.default_llm,
        sends=app.state.sends,
    )
    app.state.consumers = Consumers(app.state.broker, app.state.runner, concurrency=settings.executor_concurrency)
    if settings.executor_consume:
        app.state.broker.on_connect(app.state.consumers.start)
    app.state.sweeper = Sweeper(
        app.state.sessionmaker, app.state.broker, app.state.events, interval=settings.checkpoint_sweep_seconds
    )
    app.state.sweeper.start()
    try:
        yield
    finally:
        await app.state.sweeper.stop()
        await app.state.consumers.stop()
        await app.state.events.close()
        pool.shutdown(wait=False, cancel_futures=True)
        await app.state.http.close()
        await app.state.workflows.close()
        await app.state.sends.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "executor",
        settings=settings,
        uses_broker=True,
        routers=[chat.router, executions.router, checkpoints.router],
        extra_lifespan=_lifespan,
        description="Runs workflows with CrewAI, records executions and their steps, publishes step events, pauses "
        "runs for human approval.",
    )
