"""The client's models against the gateway's API document: every field a model names must be documented for
the paths it reads (paths the document does not list yet are skipped, not passed)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from echoai_client import models as m
from tests.support.platform import Platform

# (path, method, status) → the model the client reads that answer into; `page` when it is {items: [...]}.
READS: list[tuple[str, str, str, type[BaseModel], bool]] = [
    ("/auth/register", "post", "201", m.User, False),
    ("/auth/login", "post", "200", m.Token, False),
    ("/auth/me", "get", "200", m.User, False),
    ("/workflows", "post", "201", m.Workflow, False),
    ("/workflows", "get", "200", m.WorkflowSummary, True),
    ("/workflows/{workflow_id}", "get", "200", m.Workflow, False),
    ("/workflows/{workflow_id}/versions", "get", "200", m.VersionSummary, True),
    ("/workflows/{workflow_id}/versions/{version}", "get", "200", m.Version, False),
    ("/agents", "get", "200", m.Agent, True),
    ("/agents/{agent_id}", "get", "200", m.Agent, False),
    ("/tools", "get", "200", m.Tool, True),
    ("/tools/{tool_id}", "get", "200", m.Tool, False),
    ("/sessions", "get", "200", m.SessionSummary, True),
    ("/sessions/{session_id}", "get", "200", m.Session, False),
    ("/sessions/{session_id}/messages", "post", "201", m.Message, False),
    ("/workflows/chat/send", "post", "202", m.SendResult, False),
    ("/executions", "get", "200", m.Run, True),
    ("/executions/{run_id}", "get", "200", m.Run, False),
    ("/workflows/execution/{run_id}/steps", "get", "200", m.RunSteps, False),
    ("/executions/{run_id}/checkpoints", "get", "200", m.Checkpoint, True),
    ("/checkpoints", "get", "200", m.Checkpoint, True),
]
NESTED: dict[type[BaseModel], dict[str, type[BaseModel]]] = {
    m.RunSteps: {"steps": m.Step},
    m.Session: {"messages": m.Message},
}


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    for key in ("allOf", "anyOf", "oneOf"):
        objects = [_resolve(doc, s) for s in schema.get(key, []) if s.get("type") != "null"]
        if objects:
            return objects[0]
    return schema


def _names(model: type[BaseModel]) -> tuple[set[str], set[str]]:
    """The field names a model reads, and those it cannot do without."""
    every = {f.alias or name for name, f in model.model_fields.items()}
    required = {f.alias or name for name, f in model.model_fields.items() if f.is_required()}
    return every, required


def missing_fields(doc: dict[str, Any]) -> tuple[list[str], int]:
    """Fields the client's models name that the document does not, and how many answers were compared."""
    documented: dict[type[BaseModel], list[tuple[str, set[str]]]] = {}

    def record(model: type[BaseModel], where: str, schema: dict[str, Any]) -> None:
        props = schema.get("properties", {})
        documented.setdefault(model, []).append((where, set(props)))
        for field, inner in NESTED.get(model, {}).items():
            if field in props:
                record(inner, f"{where}.{field}[]", _resolve(doc, _resolve(doc, props[field]).get("items", {})))

    for path, method, status, model, page in READS:
        answer = doc.get("paths", {}).get(path, {}).get(method, {}).get("responses", {}).get(status)
        schema = (answer or {}).get("content", {}).get("application/json", {}).get("schema")
        if not schema:
            continue
        body = _resolve(doc, schema)
        if page:
            body = _resolve(doc, body.get("properties", {}).get("items", {}).get("items", {}))
        record(model, f"{method.upper()} {path}", body)

    problems = []
    for model, seen in documented.items():
        every, required = _names(model)
        anywhere = set().union(*(props for _, props in seen))
        problems += [f"{model.__name__}.{name}: documented nowhere" for name in sorted(every - anywhere)]
        for where, props in seen:
            problems += [f"{model.__name__}.{name}: required, absent from {where}" for name in sorted(required - props)]
    return problems, sum(len(v) for v in documented.values())


def test_the_check_fails_on_an_undocumented_field() -> None:
    doc = {
        "paths": {
            "/auth/me": {
                "get": {
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/UserOut"}}}}
                    }
                }
            }
        },
        "components": {"schemas": {"UserOut": {"properties": {"user_id": {}, "display_name": {}}}}},
    }
    problems, compared = missing_fields(doc)
    assert compared == 1 and problems == [
        "User.email: documented nowhere",
        "User.email: required, absent from GET /auth/me",
    ]


@pytest.mark.e2e
def test_models_match_the_gateway_document(platform: Platform, gateway: httpx.Client) -> None:
    doc = gateway.get("/openapi.json").json()
    problems, compared = missing_fields(doc)
    assert compared >= 4, "the gateway documents none of the answers the client reads"
    assert problems == []
