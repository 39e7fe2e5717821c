from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from services.workflow.api import agents, tools, workflows
from services.workflow.storage import WorkingCopies
from shared.service import create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None, *, fs_root: str | Path | None = None) -> FastAPI:
    """`fs_root` overrides ECHO_WORKFLOW_FS_ROOT (tests give each run a directory of its own)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.working_copies = WorkingCopies(fs_root or app.state.settings.workflow_fs_root)
        yield

    app = create_service_app(
        "workflow",
        settings=settings,
        routers=[workflows.router, agents.router, tools.router],
        extra_lifespan=lifespan,
        description="Workflow definitions with immutable versions, the agent registry and tools.",
    )
    return app
