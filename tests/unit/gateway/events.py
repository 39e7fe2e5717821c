"""Builders of step events for the gateway's fan-out tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.messaging.messages import StepEventV1

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def event(
    run_id: uuid.UUID, user_id: uuid.UUID, seq: int, type_: str = "step_output", step: str | None = "s1", **data: Any
) -> StepEventV1:
    return StepEventV1(
        type=type_,  # type: ignore[arg-type]
        run_id=run_id,
        user_id=user_id,
        seq=seq,
        ts=T0 + timedelta(seconds=seq),
        step_id=None if type_.startswith("run_") else step,
        agent_id=None if type_.startswith("run_") or step is None else f"agent-{step}",
        agent_name=None if type_.startswith("run_") or step is None else f"Agent {step}",
        data=data,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
