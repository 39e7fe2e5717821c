"""One service class per area, built per request in `api/deps.py`. Validation that needs I/O, orchestration,
after-commit work; never SQL (that is `repository.py`) and never a commit (the request dependency commits)."""

from services.workflow.service.agents import AgentService
from services.workflow.service.tools import ToolService
from services.workflow.service.workflows import WorkflowService

__all__ = ["AgentService", "ToolService", "WorkflowService"]
