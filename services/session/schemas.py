"""Request bodies and response shapes (CONTRACT §5).

Session and message objects are rendered by PostgreSQL (see repository.py) and served as-is; the response
models here document them and are used where a response is built in Python.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

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


class MessageOut(BaseModel):
    message_id: uuid.UUID
    seq: int
    role: Role
    content: str
    metadata: dict[str, Any]
    run_id: uuid.UUID | None
    created_at: datetime


class SessionSummary(BaseModel):
    """A session in `GET /sessions`: everything but the messages."""

    session_id: uuid.UUID
    title: str
    context_type: ContextType
    context_id: str | None
    variables: dict[str, Any]
    selected_tool_ids: list[str]
    run_ids: list[uuid.UUID]
    message_count: int
    created_at: datetime
    updated_at: datetime


class SessionOut(SessionSummary):
    messages: list[MessageOut]


class SessionPage(BaseModel):
    items: list[SessionSummary]
    next_cursor: str | None = None


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None = None
    # The highest seq in the session: a client is up to date once it has seen it.
    last_seq: int


class VariablesOut(BaseModel):
    variables: dict[str, Any]


class ToolsOut(BaseModel):
    selected_tool_ids: list[str]


class RunIdsOut(BaseModel):
    run_ids: list[uuid.UUID]


class ToolConfigOut(BaseModel):
    tool_id: str
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ToolConfigPage(BaseModel):
    items: list[ToolConfigOut]
    next_cursor: str | None = None
