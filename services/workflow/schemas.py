"""Request and response bodies. Definitions and agents keep every key a client sends (extra="allow"); only the
minimal shape the executor relies on is checked."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from services.workflow.domain.nesting import depth_error, too_deep
from shared.contracts import ExecutionModel

SaveAs = Literal["draft", "temp", "final"]
WorkflowStatus = Literal["draft", "temp", "final"]
ToolType = Literal["builtin", "api", "custom"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
# The agents one definition may hold: far more than a crew is ever given, and few enough that a save upserts
# them all in one statement (PostgreSQL takes at most 32,767 parameters in one, five per agent here).
MAX_AGENTS = 500
# The longest an echo LLM call may be made to wait: an hour is more than any test or demo needs.
MAX_DELAY_MS = 3_600_000


def _bounded_depth(what: str, value: Any) -> Any:
    if too_deep(value):
        raise PydanticCustomError("too_deep", depth_error(what))
    return value


class _Open(BaseModel):
    """Unknown keys are kept and handed on unchanged."""

    model_config = ConfigDict(extra="allow")


class TaskSpec(_Open):
    description: str
    expected_output: str | None = None


class LlmSpec(_Open):
    provider: str = Field(min_length=1)
    model: str | None = None
    delay_ms: int | None = Field(default=None, ge=0, le=MAX_DELAY_MS)
    fail_with: str | None = None


class HitlSpec(_Open):
    mode: Literal["approval"]


class AgentSpec(_Open):
    """An agent as it appears in a definition, and as the body of POST/PUT /agents."""

    @model_validator(mode="before")
    @classmethod
    def _not_too_deep(cls, data: Any) -> Any:
        return _bounded_depth("the agent", data)

    agent_id: str | None = Field(
        default=None,
        description="A UUID, a legacy `agt_<32 hex>` / `agt_<uuid>`, or any string (mapped to a stable UUID). "
        "Assigned on save when missing.",
    )
    name: Name
    role: str | None = None
    goal: str | None = None
    backstory: str | None = None
    task: TaskSpec | None = None
    llm: LlmSpec | None = None
    tools: list[str] = Field(default_factory=list, description="Tool IDs (see GET /tools).")
    hitl: HitlSpec | None = None


class Connection(_Open):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str


class ManagerSpec(_Open):
    llm: LlmSpec | None = None


class WorkflowDefinition(_Open):
    """The minimal shape of a workflow definition; every other key is stored and returned as sent."""

    model_config = ConfigDict(extra="allow", title="WorkflowDefinition")

    @model_validator(mode="before")
    @classmethod
    def _not_too_deep(cls, data: Any) -> Any:
        return _bounded_depth("the definition", data)

    name: Name
    execution_model: ExecutionModel = "sequential"
    agents: list[AgentSpec] = Field(default_factory=list, max_length=MAX_AGENTS)
    connections: list[Connection] = Field(default_factory=list)
    manager: ManagerSpec | None = None

    def as_stored(self) -> dict[str, Any]:
        """The definition as the client sent it: no defaults added, `from` spelled as `from`."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class SaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: WorkflowDefinition
    save_as: SaveAs = Field(description="draft: database + file; temp: file only; final: database + file + version.")


class WorkflowSummary(BaseModel):
    workflow_id: uuid.UUID
    name: str
    status: WorkflowStatus
    version: int = Field(description="The number of the latest final version; 0 when there is none.")
    created_at: datetime
    updated_at: datetime


class WorkflowOut(WorkflowSummary):
    definition: dict[str, Any]


class VersionSummary(BaseModel):
    workflow_id: uuid.UUID
    version: int
    name: str
    created_at: datetime


class VersionOut(VersionSummary):
    definition: dict[str, Any]


class AgentOut(BaseModel):
    agent_id: uuid.UUID
    name: str
    source_workflow_id: uuid.UUID | None
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


Tag = Annotated[str, Field(min_length=1, max_length=64)]
MAX_TAGS = 32


class ToolIn(BaseModel):
    # Unknown keys (e.g. `builtin`, `created_at` of a fetched tool sent back) are ignored, not stored.
    model_config = ConfigDict(extra="ignore")

    tool_id: str | None = Field(
        default=None, description="POST only: a UUID or legacy `tool_...` ID; assigned when missing."
    )
    name: Name
    tool_type: ToolType
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    definition: dict[str, Any] = Field(
        default_factory=dict, description="api tools: `url` (http or https) and optional `method`."
    )

    @field_validator("definition", mode="before")
    @classmethod
    def _not_too_deep(cls, data: Any) -> Any:
        return _bounded_depth("the tool's definition", data)


class ToolOut(BaseModel):
    tool_id: uuid.UUID
    name: str
    tool_type: ToolType
    tags: list[str]
    definition: dict[str, Any]
    builtin: bool = Field(description="True for the platform's own tools: visible to everyone, read-only.")
    created_at: datetime
    updated_at: datetime
