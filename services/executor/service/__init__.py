"""The executor's service layer, one class per area, each built per request in `api/deps.py` (or by the runtime
for the timeout sweeper). Never commits: the request's DbSession (or the caller's `transaction`) does, and broker
work that must follow the commit is registered with `after_commit`."""

from services.executor.service.checkpoints import CheckpointService, Decisions
from services.executor.service.executions import ExecutionService
from services.executor.service.runs import RunService

__all__ = ["CheckpointService", "Decisions", "ExecutionService", "RunService"]
