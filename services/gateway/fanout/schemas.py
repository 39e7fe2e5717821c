from __future__ import annotations

from pydantic import BaseModel


class StepOut(BaseModel):
    step_id: str
    agent_id: str | None = None
    agent_name: str | None = None
    status: str | None = None
    output: str | None = None
    error: str | None = None
    started_at: str | None = None
    completed_at: str | None = None


class RunStepsOut(BaseModel):
    run_id: str
    status: str | None
    last_seq: int
    steps: list[StepOut]
