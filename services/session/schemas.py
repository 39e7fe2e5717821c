"""Request bodies and response models of the session API.

Every response is checked against its model. Sessions and messages are rendered as JSON by PostgreSQL (see
repository.py), validated with the model (`check`) and then sent as they are, so a session of thousands of
messages is parsed once and never re-encoded; PostgreSQL writes timestamps in the same fixed format the
models dump (`Timestamp`). Lists are built as models and dumped by FastAPI.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

ContextType = Literal["general", "workflow", "agent", "workflow_design"]
Role = Literal["user", "assistant", "system", "tool"]

MAX_TOOLS = 200


def no_nul(value: Any) -> Any:
    """PostgreSQL text and JSONB cannot hold U+0000; refuse it up front instead of failing in the database."""
    if "\\u0000" in json.dumps(value):
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(no_nul)]
ToolId = Text200
JsonObject = Annotated[dict[str, Any], AfterValidator(no_nul)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContextIn(_In):
    context_type: ContextType = "general"
    context_id: Text200 | None = None

    @model_validator(mode="after")
    def _context_matches_type(self) -> ContextIn:
        if self.context_type == "general" and self.context_id is not None:
            raise ValueError("context_id must be null when context_type is 'general'")
        if self.context_type in ("workflow", "agent") and self.context_id is None:
            raise ValueError(f"context_id is required when context_type is '{self.context_type}'")
        return self


class SessionCreate(ContextIn):
    title: Text200 = "New chat"
    variables: JsonObject = Field(default_factory=dict)
    selected_tool_ids: list[ToolId] = Field(default_factory=list, max_length=MAX_TOOLS)


class TitleIn(_In):
    title: Text200


class ToolsIn(_In):
    tool_ids: list[ToolId] = Field(max_length=MAX_TOOLS)


class ToolConfigIn(_In):
    config: JsonObject


class RunIn(_In):
    run_id: uuid.UUID


class MessageIn(_In):
    role: Role
    # The byte limit (64 KiB of UTF-8) is checked by the service and answered with 413.
    content: Annotated[str, AfterValidator(no_nul)]
    metadata: JsonObject = Field(default_factory=dict)
    run_id: uuid.UUID | None = None


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Always six digits of microseconds and `Z`, as PostgreSQL renders them: the text sorts as the time does.
Timestamp = Annotated[
    datetime,
    PlainSerializer(_utc_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


class _Out(BaseModel):
    # A key the model does not declare fails the check instead of reaching a client undocumented.
    model_config = ConfigDict(extra="forbid")


class MessageOut(_Out):
    message_id: uuid.UUID
    seq: int
    role: Role
    content: str
    metadata: dict[str, Any]
    run_id: uuid.UUID | None
    created_at: Timestamp


class SessionSummary(_Out):
    """A session in `GET /sessions`: everything but the messages."""

    session_id: uuid.UUID
    title: str
    context_type: ContextType
    context_id: str | None
    variables: dict[str, Any]
    selected_tool_ids: list[str]
    run_ids: list[uuid.UUID]
    message_count: int
    created_at: Timestamp
    updated_at: Timestamp


class SessionOut(SessionSummary):
    messages: list[MessageOut]


class SessionPage(_Out):
    items: list[SessionSummary]
    next_cursor: str | None = None


class MessagePage(_Out):
    items: list[MessageOut]
    next_cursor: str | None = None
    # The highest seq in the session: a client is up to date once it has seen it.
    last_seq: int


class VariablesOut(_Out):
    variables: dict[str, Any]


class ToolsOut(_Out):
    selected_tool_ids: list[str]


class RunIdsOut(_Out):
    run_ids: list[uuid.UUID]


class ToolConfigOut(_Out):
    tool_id: str
    config: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class RunSetupOut(_Out):
    """What a run of the session uses (`GET /sessions/{id}/run-setup`): the executor reads this for every send."""

    session_id: uuid.UUID
    variables: dict[str, Any]
    selected_tool_ids: list[str]
    # tool_id → config, in tool_id order; at most `service.MAX_RUN_TOOL_CONFIGS` of them.
    tool_configs: dict[str, dict[str, Any]]


class ToolConfigPage(_Out):
    items: list[ToolConfigOut]
    next_cursor: str | None = None


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Checked(Generic[M]):
    """A JSON body that validated as `M`: freshly rendered and checked, or cached after it was checked."""

    body: bytes


def check(model: type[M], raw: str | bytes) -> Checked[M]:
    """Validate JSON text against `model` (a mismatch raises, so it is never sent) and keep the text to send."""
    model.__pydantic_validator__.validate_json(raw)
    return Checked(raw.encode() if isinstance(raw, str) else raw)
