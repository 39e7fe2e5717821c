"""Legacy JSON objects turned into what the services store, validated by the services' own schemas.

Pure: no I/O. Anything that cannot be migrated raises `Skip` with a reason a person can act on.

IDs: `shared.ids.parse_uuid` with the owner as scope for every kind (`agt`, `wf`, `tool`, `sess`), the way the
workflow service maps agent and tool IDs: a UUID-shaped ID (`agt_<32 hex>`, `wf_<uuid>`, a bare UUID) is that
UUID whoever migrates it; a free-form one (`agt_reviewer`) becomes a uuid5 of the owner and the string, so it
lands on the same UUID in every file that names it, and two owners' `agt_reviewer`s never clash.
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from services.session.schemas import MAX_TOOLS, ContextIn, ContextType, JsonObject, Role, no_nul
from services.workflow.domain.definitions import normalise_agent_ids
from services.workflow.domain.tools import validate_definition
from services.workflow.repository import AgentRow, ToolRow
from services.workflow.schemas import AgentSpec, ToolIn, ToolType, WorkflowDefinition
from shared.contracts import BUILTIN_TOOL_NAMES
from shared.errors import EchoError, describe_validation_errors
from shared.ids import parse_uuid

WORKFLOW_STATUSES = ("draft", "final", "temp")
M = TypeVar("M", bound=BaseModel)
TOOL_TYPES: tuple[str, ...] = get_args(ToolType)


class Skip(Exception):
    """This file is not migrated; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def invalid(exc: ValidationError) -> Skip:
    errors: list[dict[str, Any]] = [dict(e) for e in exc.errors()]
    return Skip(f"wrong shape: {describe_validation_errors(errors)}")


def validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from None


class Ids:
    """The UUIDs of one owner's legacy IDs."""

    def __init__(self, owner: uuid.UUID):
        self.owner = owner

    def _parse(self, raw: str, prefix: str) -> uuid.UUID:
        try:
            return parse_uuid(raw, prefix, scope=self.owner)
        except ValueError:
            raise Skip(f"wrong shape: an empty {prefix} ID; give it one or leave the key out") from None

    def agent(self, raw: str) -> uuid.UUID:
        return self._parse(raw, "agt")

    def workflow(self, raw: str) -> uuid.UUID:
        return self._parse(raw, "wf")

    def tool(self, raw: str) -> uuid.UUID:
        return self._parse(raw, "tool")

    def session(self, raw: str) -> uuid.UUID:
        return self._parse(raw, "sess")

    def tool_ref(self, ref: str) -> str:
        """A tool reference as the executor resolves it: the executor's own builtin names stay names."""
        return ref if ref in BUILTIN_TOOL_NAMES else str(self.tool(ref))


def legacy_id(data: dict[str, Any], key: str, stem: str) -> str:
    """The object's own ID, or the file name when it has none (legacy files are named after their IDs)."""
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return stem
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Skip(f"wrong shape: {key} must be a string, not {type(value).__name__}")
    return str(value)


def _map_tools(agent: dict[str, Any], ids: Ids) -> None:
    if isinstance(agent.get("tools"), list):
        agent["tools"] = [ids.tool_ref(t) for t in agent["tools"]]


# --- agents -----------------------------------------------------------------------------------------------


def agent_row(data: dict[str, Any], stem: str, ids: Ids) -> AgentRow:
    """An agent file as POST /agents would store it, its `tools` pointing at the migrated tools."""
    raw_id = legacy_id(data, "agent_id", stem)
    spec = validated(AgentSpec, data)
    agent_id = ids.agent(raw_id)
    definition = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    definition["agent_id"] = str(agent_id)
    _map_tools(definition, ids)
    return AgentRow(agent_id=agent_id, name=spec.name, definition=definition)


# --- workflows --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowRecord:
    workflow_id: uuid.UUID
    legacy_id: str
    name: str
    status: str
    definition: dict[str, Any]
    agents: list[AgentRow]


def workflow_status(data: dict[str, Any], folder: str | None) -> str:
    """The folder the file sits in decides; a file directly under workflows/ carries its own `status`."""
    if folder is not None:
        return folder
    status = data.get("status")
    if status not in WORKFLOW_STATUSES:
        raise Skip(
            "no status: put the file in workflows/draft, workflows/final or workflows/temp, or give it a "
            '"status" of draft, final or temp'
        )
    return str(status)


def workflow_record(data: dict[str, Any], stem: str, folder: str | None, ids: Ids) -> WorkflowRecord:
    """The definition as a draft or final save stores it: agent IDs normalised, connections and tools following."""
    status = workflow_status(data, folder)
    raw_id = legacy_id(data, "workflow_id", stem)
    body = validated(WorkflowDefinition, data)
    definition = body.as_stored()
    for agent in definition.get("agents") or []:
        _map_tools(agent, ids)
    try:
        agents = normalise_agent_ids(definition, ids.owner)
    except EchoError as exc:
        raise Skip(f"wrong shape: {exc.detail}") from None
    return WorkflowRecord(ids.workflow(raw_id), raw_id, body.name, status, definition, agents)


# --- tools ------------------------------------------------------------------------------------------------


def tool_row(data: dict[str, Any], stem: str, ids: Ids) -> ToolRow:
    """A tool as POST /tools would store it: type checked, api tools need their URL, tags de-duplicated."""
    raw_id = legacy_id(data, "tool_id", stem)
    kind = data.get("tool_type")
    if isinstance(kind, str) and kind not in TOOL_TYPES:
        raise Skip(f"unknown tool_type '{kind}': a tool is one of {', '.join(TOOL_TYPES)}")
    body = validated(ToolIn, data)
    try:
        validate_definition(body)
    except EchoError as exc:
        raise Skip(f"wrong shape: {exc.detail}") from None
    definition = copy.deepcopy(body.definition)
    if body.tool_type == "builtin" and "builtin" not in definition:
        # Legacy builtin tools named the implementation only by their name ("Calculator"); the executor
        # finds a builtin by `definition.builtin`, so name it where it is one the platform has.
        key = re.sub(r"[\s-]+", "_", body.name.strip().lower())
        if key in BUILTIN_TOOL_NAMES:
            definition["builtin"] = key
    return ToolRow(
        tool_id=ids.tool(raw_id),
        name=body.name,
        tool_type=body.tool_type,
        tags=list(dict.fromkeys(body.tags)),
        definition=definition,
    )


def utc_iso(moment: datetime) -> str:
    """The timestamp format the session service renders (microseconds, `Z`)."""
    if moment.tzinfo is None:  # legacy timestamps without a zone were written in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- sessions ---------------------------------------------------------------------------------------------


class LegacyMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Role
    content: Annotated[str, AfterValidator(no_nul)]
    metadata: JsonObject = Field(default_factory=dict)
    message_id: str | None = None
    run_id: str | None = None
    timestamp: datetime | None = None
    created_at: datetime | None = None


class LegacySession(BaseModel):
    model_config = ConfigDict(extra="allow")

    title: str | None = None
    context_type: ContextType = "general"
    context_id: str | None = None
    variables: JsonObject = Field(default_factory=dict)
    selected_tool_ids: list[str] = Field(default_factory=list, max_length=MAX_TOOLS)
    run_ids: list[str] = Field(default_factory=list)
    messages: list[LegacyMessage] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class SessionRecord:
    session_id: uuid.UUID
    title: str
    context_type: str
    context_id: str | None
    variables: dict[str, Any]
    selected_tool_ids: list[str]
    run_ids: list[str]
    messages: list[dict[str, Any]]  # in the stored shape, seq 1, 2, ...
    content_bytes: int
    created_at: datetime
    updated_at: datetime


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _message(
    session_id: uuid.UUID, seq: int, legacy: LegacyMessage, fallback: datetime
) -> tuple[dict[str, Any], datetime]:
    """A legacy message in the session service's shape; IDs are stable, so a second run builds the same one."""
    moment = legacy.timestamp or legacy.created_at or fallback
    message_id = _uuid_or_none(legacy.message_id) or uuid.uuid5(session_id, f"message:{legacy.message_id or seq}")
    run_id = _uuid_or_none(legacy.run_id)
    metadata = dict(legacy.metadata)
    # Keys the message shape has no place for are kept, not dropped.
    extra = dict(legacy.model_extra or {})
    if legacy.run_id and run_id is None:
        extra["run_id"] = legacy.run_id
    if extra:
        metadata["legacy"] = extra
    message = {
        "message_id": str(message_id),
        "seq": seq,
        "role": legacy.role,
        "content": legacy.content,
        "metadata": metadata,
        "run_id": str(run_id) if run_id else None,
        "created_at": utc_iso(moment),
    }
    return message, moment


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def session_record(data: dict[str, Any], stem: str, modified_at: datetime, ids: Ids) -> SessionRecord:
    """A session with its messages embedded in order, `seq` 1, 2, ... and each legacy `timestamp` as created_at.

    A message without a time takes its predecessor's (else the session's creation time, else the file's).
    """
    raw_id = legacy_id(data, "session_id", stem)
    legacy = validated(LegacySession, data)
    session_id = ids.session(raw_id)
    context_id = legacy.context_id
    if context_id is not None and context_id.strip():
        context_id = str(ids.agent(context_id) if legacy.context_type == "agent" else ids.workflow(context_id))
    else:
        context_id = None
    context = validated(ContextIn, {"context_type": legacy.context_type, "context_id": context_id})
    created_at = _aware(
        legacy.created_at
        or next((m.timestamp or m.created_at for m in legacy.messages if m.timestamp or m.created_at), None)
        or modified_at
    )
    messages: list[dict[str, Any]] = []
    moment = created_at
    for seq, item in enumerate(legacy.messages, start=1):
        message, moment = _message(session_id, seq, item, moment)
        messages.append(message)
    title = (legacy.title or "").strip()[:200] or "New chat"
    return SessionRecord(
        session_id=session_id,
        title=title,
        context_type=context.context_type,
        context_id=context.context_id,
        variables=legacy.variables,
        selected_tool_ids=list(dict.fromkeys(ids.tool_ref(t) for t in legacy.selected_tool_ids)),
        run_ids=[str(r) for r in dict.fromkeys(filter(None, map(_uuid_or_none, legacy.run_ids)))],
        messages=messages,
        content_bytes=sum(len(m["content"].encode()) for m in messages),
        created_at=created_at,
        updated_at=_aware(legacy.updated_at or moment),
    )
