"""Every endpoint the client knows, once: method, path, query, body and the model of the answer.

`Client` and `AsyncClient` only differ in how they send a `Call`, so paths and models live here alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, TypeAdapter

from echoai_client.models import (
    Agent,
    Checkpoint,
    Message,
    Page,
    Run,
    RunSteps,
    SendResult,
    Session,
    SessionSummary,
    Token,
    Tool,
    User,
    Version,
    VersionSummary,
    Workflow,
    WorkflowSummary,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
SaveAs = Literal["draft", "temp", "final"]
Decision = Literal["approve", "edit", "reject"]
Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    params: Params = ()
    body: Any = None
    auth: bool = True


def _model(cls: type[M]) -> Callable[[Any], M]:
    return cls.model_validate


def _none(_: Any) -> None:
    return None


def _list_of(cls: type[M]) -> Callable[[Any], list[M]]:
    adapter = TypeAdapter(list[cls])  # type: ignore[valid-type]

    def parse(body: Any) -> list[M]:
        items = body.get("items", []) if isinstance(body, dict) else body
        return list(adapter.validate_python(items))

    return parse


def _query(**values: Any) -> Params:
    """Query parameters without the unset ones; a sequence becomes a repeated parameter."""
    params: list[tuple[str, str]] = []
    for key, value in values.items():
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            params.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    return tuple(params)


def load_definition(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """A workflow definition from a dict or a JSON file (which may also wrap it as `{"definition": {...}}`)."""
    body = dict(source) if isinstance(source, Mapping) else json.loads(Path(source).read_text(encoding="utf-8"))
    if not isinstance(body, dict):
        raise ValueError(f"{source}: a workflow definition is a JSON object")
    inner = body.get("definition")
    return dict(inner) if isinstance(inner, dict) and "agents" not in body else body


# -- identity ---------------------------------------------------------------------------------------------------


def register(email: str, password: str, display_name: str | None = None) -> Call[User]:
    body = {"email": email, "password": password, **({"display_name": display_name} if display_name else {})}
    return Call("POST", "/auth/register", _model(User), body=body, auth=False)


def login(email: str, password: str) -> Call[Token]:
    return Call("POST", "/auth/login", _model(Token), body={"email": email, "password": password}, auth=False)


def me() -> Call[User]:
    return Call("GET", "/auth/me", _model(User))


def health() -> Call[dict[str, Any]]:
    return Call("GET", "/health", dict, auth=False)


# -- workflows --------------------------------------------------------------------------------------------------


def save_workflow(definition: dict[str, Any], save_as: SaveAs, workflow_id: str | None) -> Call[Workflow]:
    body = {"definition": definition, "save_as": save_as}
    if workflow_id:
        return Call("PUT", f"/workflows/{workflow_id}", _model(Workflow), body=body)
    return Call("POST", "/workflows", _model(Workflow), body=body)


def list_workflows(status: str | None, limit: int | None, cursor: str | None) -> Call[Page[WorkflowSummary]]:
    return Call("GET", "/workflows", _model(Page[WorkflowSummary]), _query(status=status, limit=limit, cursor=cursor))


def get_workflow(workflow_id: str) -> Call[Workflow]:
    return Call("GET", f"/workflows/{workflow_id}", _model(Workflow))


def get_temp_workflow(workflow_id: str) -> Call[Workflow]:
    return Call("GET", f"/workflows/{workflow_id}/temp", _model(Workflow))


def delete_workflow(workflow_id: str) -> Call[None]:
    return Call("DELETE", f"/workflows/{workflow_id}", _none)


def list_versions(workflow_id: str, limit: int | None, cursor: str | None) -> Call[Page[VersionSummary]]:
    params = _query(limit=limit, cursor=cursor)
    return Call("GET", f"/workflows/{workflow_id}/versions", _model(Page[VersionSummary]), params)


def get_version(workflow_id: str, version: int) -> Call[Version]:
    return Call("GET", f"/workflows/{workflow_id}/versions/{version}", _model(Version))


def restore_version(workflow_id: str, version: int) -> Call[Workflow]:
    return Call("POST", f"/workflows/{workflow_id}/versions/{version}/restore", _model(Workflow))


# -- agents and tools -------------------------------------------------------------------------------------------


def list_agents(source_workflow_id: str | None, limit: int | None, cursor: str | None) -> Call[Page[Agent]]:
    params = _query(source_workflow_id=source_workflow_id, limit=limit, cursor=cursor)
    return Call("GET", "/agents", _model(Page[Agent]), params)


def create_agent(agent: dict[str, Any]) -> Call[Agent]:
    return Call("POST", "/agents", _model(Agent), body=agent)


def get_agent(agent_id: str) -> Call[Agent]:
    return Call("GET", f"/agents/{agent_id}", _model(Agent))


def update_agent(agent_id: str, agent: dict[str, Any]) -> Call[Agent]:
    return Call("PUT", f"/agents/{agent_id}", _model(Agent), body=agent)


def delete_agent(agent_id: str) -> Call[None]:
    return Call("DELETE", f"/agents/{agent_id}", _none)


def list_tools(
    tags: Sequence[str] | None, tool_type: str | None, limit: int | None, cursor: str | None
) -> Call[Page[Tool]]:
    params = _query(tag=list(tags or []) or None, type=tool_type, limit=limit, cursor=cursor)
    return Call("GET", "/tools", _model(Page[Tool]), params)


def create_tool(tool: dict[str, Any]) -> Call[Tool]:
    return Call("POST", "/tools", _model(Tool), body=tool)


def get_tool(tool_id: str) -> Call[Tool]:
    return Call("GET", f"/tools/{tool_id}", _model(Tool))


def update_tool(tool_id: str, tool: dict[str, Any]) -> Call[Tool]:
    return Call("PUT", f"/tools/{tool_id}", _model(Tool), body=tool)


def delete_tool(tool_id: str) -> Call[None]:
    return Call("DELETE", f"/tools/{tool_id}", _none)


# -- sessions ---------------------------------------------------------------------------------------------------


def list_sessions(limit: int | None, cursor: str | None) -> Call[Page[SessionSummary]]:
    return Call("GET", "/sessions", _model(Page[SessionSummary]), _query(limit=limit, cursor=cursor))


def create_session(title: str | None, context_type: str | None, context_id: str | None) -> Call[Session]:
    body = {k: v for k, v in {"title": title, "context_type": context_type, "context_id": context_id}.items() if v}
    return Call("POST", "/sessions", _model(Session), body=body)


def get_session(session_id: str) -> Call[Session]:
    return Call("GET", f"/sessions/{session_id}", _model(Session))


def delete_session(session_id: str) -> Call[None]:
    return Call("DELETE", f"/sessions/{session_id}", _none)


def set_session_title(session_id: str, title: str) -> Call[Session]:
    return Call("PATCH", f"/sessions/{session_id}/title", _model(Session), body={"title": title})


def add_message(session_id: str, role: str, content: str, metadata: dict[str, Any] | None) -> Call[Message]:
    body = {"role": role, "content": content, "metadata": metadata or {}}
    return Call("POST", f"/sessions/{session_id}/messages", _model(Message), body=body)


def list_messages(session_id: str, after_seq: int | None, limit: int | None) -> Call[Page[Message]]:
    params = _query(after_seq=after_seq, limit=limit)
    return Call("GET", f"/sessions/{session_id}/messages", _model(Page[Message]), params)


# -- runs and checkpoints ---------------------------------------------------------------------------------------


def send(workflow_id: str, message: str, session_id: str | None, inputs: dict[str, Any] | None) -> Call[SendResult]:
    body: dict[str, Any] = {"workflow_id": workflow_id, "message": message}
    if session_id:
        body["session_id"] = session_id
    if inputs:
        body["inputs"] = inputs
    return Call("POST", "/workflows/chat/send", _model(SendResult), body=body)


def get_run(run_id: str) -> Call[Run]:
    return Call("GET", f"/executions/{run_id}", _model(Run))


def list_runs(workflow_id: str | None, status: str | None, limit: int | None, cursor: str | None) -> Call[Page[Run]]:
    params = _query(workflow_id=workflow_id, status=status, limit=limit, cursor=cursor)
    return Call("GET", "/executions", _model(Page[Run]), params)


def cancel_run(run_id: str) -> Call[Run]:
    return Call("POST", f"/executions/{run_id}/cancel", _model(Run))


def run_steps(run_id: str) -> Call[RunSteps]:
    return Call("GET", f"/workflows/execution/{run_id}/steps", _model(RunSteps))


def inbox(status: str | None, workflow_id: str | None, limit: int | None, cursor: str | None) -> Call[Page[Checkpoint]]:
    params = _query(status=status, workflow_id=workflow_id, limit=limit, cursor=cursor)
    return Call("GET", "/checkpoints", _model(Page[Checkpoint]), params)


def list_checkpoints(run_id: str) -> Call[list[Checkpoint]]:
    return Call("GET", f"/executions/{run_id}/checkpoints", _list_of(Checkpoint))


def decide(
    run_id: str, checkpoint_id: str, action: Decision, output: str | None, comment: str | None
) -> Call[dict[str, Any]]:
    body: dict[str, Any] = {"action": action}
    if output is not None:
        body["output"] = output
    if comment is not None:
        body["comment"] = comment
    path = f"/executions/{run_id}/checkpoints/{checkpoint_id}/decision"
    return Call("POST", path, lambda b: dict(b) if isinstance(b, dict) else {}, body=body)
