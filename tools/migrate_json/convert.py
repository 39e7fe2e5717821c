"""Legacy JSON objects turned into what the services store, validated by the services' own schemas.

Pure: no I/O. Anything that cannot be migrated raises `Skip` with a reason a person can act on.

IDs: `shared.ids.parse_uuid` with the owner as scope for every kind (`agt`, `wf`, `tool`, `sess`), the way the
workflow service maps agent and tool IDs: a UUID-shaped ID (`agt_<32 hex>`, `wf_<uuid>`, a bare UUID) is that
UUID whoever migrates it; a free-form one (`agt_reviewer`) becomes a uuid5 of the owner and the string, so it
lands on the same UUID in every file that names it, and two owners' `agt_reviewer`s never clash.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.executor.domain.plan import BUILTIN_TOOL_NAMES
from services.workflow.domain.definitions import normalise_agent_ids
from services.workflow.domain.tools import validate_definition
from services.workflow.repository import AgentRow, ToolRow
from services.workflow.schemas import AgentSpec, ToolIn, WorkflowDefinition
from shared.errors import EchoError, describe_validation_errors
from shared.ids import parse_uuid

WORKFLOW_STATUSES = ("draft", "final", "temp")
M = TypeVar("M", bound=BaseModel)


class Skip(Exception):
    """This file is not migrated; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def invalid(exc: ValidationError) -> Skip:
    return Skip(f"wrong shape: {describe_validation_errors(list(exc.errors()))}")


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
        return parse_uuid(raw, prefix, scope=self.owner)

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
    body = validated(ToolIn, data)
    try:
        validate_definition(body)
    except EchoError as exc:
        raise Skip(f"wrong shape: {exc.detail}") from None
    return ToolRow(
        tool_id=ids.tool(raw_id),
        name=body.name,
        tool_type=body.tool_type,
        tags=list(dict.fromkeys(body.tags)),
        definition=copy.deepcopy(body.definition),
    )


def utc_iso(moment: datetime) -> str:
    """The timestamp format the session service renders (microseconds, `Z`)."""
    if moment.tzinfo is None:  # legacy timestamps without a zone were written in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
