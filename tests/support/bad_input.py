"""Every bad input of the input-edge issue, as one table: the request, who owns the path, and the answer.

Used twice: against each service in process (tests/integration/test_bad_input.py) and through the gateway with
every service a real process (tests/e2e/test_bad_input.py). Bodies are raw JSON text, because the cases are
exactly what a JSON encoder refuses to write (NaN, Infinity, unpaired surrogates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Service = Literal["gateway", "workflow", "session", "executor"]


@dataclass(frozen=True)
class Objects:
    """One caller's objects the paths refer to."""

    workflow_id: str
    agent_id: str
    tool_id: str
    session_id: str


@dataclass(frozen=True)
class BadInput:
    name: str
    service: Service
    method: str
    path: str  # may name {workflow_id}, {agent_id}, {tool_id}, {session_id}
    body: str | None = None
    status: int = 422
    errors: tuple[str, ...] = ("invalid_text",)
    field: str = ""  # the detail starts with it

    def url(self, objects: Objects) -> str:
        return self.path.format(**vars(objects))

    def content(self) -> bytes | None:
        return None if self.body is None else self.body.encode()


def _definition(inner: str) -> str:
    return '{"save_as": "draft", "definition": ' + inner + "}"


def _nested(depth: int) -> str:
    return '{"k": ' * (depth - 1) + "[1]" + "}" * (depth - 1)


NUL = "\\u0000"  # as written in JSON text
LONE = "\\udfff"
HIGH = "\\ud800"
THREE_MIB = 3 * 1024 * 1024
ANY_ID = "6f1c1d1e-0000-4000-8000-000000000001"

CASES: list[BadInput] = [
    # NUL (U+0000) anywhere it would reach PostgreSQL
    BadInput(
        "nul in agent goal", "workflow", "POST", "/agents", f'{{"name": "a", "goal": "{NUL}"}}', field="body.goal"
    ),
    BadInput(
        "nul in workflow name",
        "workflow",
        "POST",
        "/workflows",
        _definition(f'{{"name": "x{NUL}"}}'),
        field="body.definition.name",
    ),
    BadInput(
        "nul in PUT workflow",
        "workflow",
        "PUT",
        "/workflows/{workflow_id}",
        _definition(f'{{"name": "ok", "agents": [{{"name": "a", "goal": "{NUL}"}}]}}'),
        field="body.definition.agents[0].goal",
    ),
    BadInput("nul in PUT agent", "workflow", "PUT", "/agents/{agent_id}", f'{{"name": "a{NUL}"}}', field="body.name"),
    BadInput(
        "nul in PUT tool",
        "workflow",
        "PUT",
        "/tools/{tool_id}",
        f'{{"name": "t", "tool_type": "custom", "definition": {{"url": "{NUL}"}}}}',
        field="body.definition.url",
    ),
    BadInput(
        "nul in tool tags",
        "workflow",
        "POST",
        "/tools",
        f'{{"name": "t", "tool_type": "custom", "tags": ["ok", "a{NUL}"]}}',
        field="body.tags[1]",
    ),
    BadInput("nul in tool tag query", "workflow", "GET", "/tools?tag=%00", field="query.tag"),
    BadInput(
        "nul in variables key",
        "session",
        "PATCH",
        "/sessions/{session_id}/variables",
        f'{{"{NUL}": 1}}',
        field=f'body["{NUL}"]',
    ),
    BadInput("nul in context_id query", "session", "GET", "/sessions?context_id=%00", field="query.context_id"),
    BadInput(
        "nul in register display_name",
        "gateway",
        "POST",
        "/auth/register",
        f'{{"email": "nul@example.com", "password": "long enough", "display_name": "a{NUL}"}}',
        field="body.display_name",
    ),
    BadInput(
        "nul in login email",
        "gateway",
        "POST",
        "/auth/login",
        f'{{"email": "a{NUL}@example.com", "password": "long enough"}}',
        field="body.email",
    ),
    BadInput("nul in a path id", "workflow", "GET", "/workflows/%00", field="path"),
    BadInput(
        "nul in chat/send message is 422, not 503",
        "executor",
        "POST",
        "/workflows/chat/send",
        f'{{"workflow_id": "{ANY_ID}", "message": "hi{NUL}"}}',
        field="body.message",
    ),
    # Unpaired surrogates
    BadInput(
        "lone surrogate in message content",
        "session",
        "POST",
        "/sessions/{session_id}/messages",
        f'{{"role": "user", "content": "{LONE}"}}',
        field="body.content",
    ),
    BadInput(
        "lone surrogate in variables",
        "session",
        "PATCH",
        "/sessions/{session_id}/variables",
        f'{{"v": "x{HIGH}"}}',
        field="body.v",
    ),
    BadInput(
        "lone surrogate in agent field",
        "workflow",
        "POST",
        "/agents",
        f'{{"name": "a", "backstory": "{LONE}"}}',
        field="body.backstory",
    ),
    # Numbers
    BadInput(
        "version beyond int4",
        "workflow",
        "GET",
        "/workflows/{workflow_id}/versions/2147483648",
        errors=("validation_error", "invalid_input"),
    ),
    BadInput(
        "restore of a version beyond int4",
        "workflow",
        "POST",
        "/workflows/{workflow_id}/versions/2147483648/restore",
        errors=("validation_error", "invalid_input"),
    ),
    BadInput(
        "Infinity in variables",
        "session",
        "PATCH",
        "/sessions/{session_id}/variables",
        '{"n": Infinity}',
        errors=("invalid_number",),
        field="body.n",
    ),
    BadInput(
        "NaN in a definition",
        "workflow",
        "POST",
        "/workflows",
        _definition('{"name": "n", "weight": NaN}'),
        errors=("invalid_number",),
        field="body.definition.weight",
    ),
    BadInput(
        "1e400 in a definition",
        "workflow",
        "POST",
        "/workflows",
        _definition('{"name": "n", "budget": 1e400}'),
        errors=("invalid_number",),
        field="body.definition.budget",
    ),
    # Depth
    BadInput(
        "definition nested 900 deep",
        "workflow",
        "POST",
        "/workflows",
        _definition('{"name": "deep", "x": ' + _nested(900) + "}"),
        errors=("too_deep",),
        field="body.definition.x.k",
    ),
    BadInput(
        "variables nested deep",
        "session",
        "PATCH",
        "/sessions/{session_id}/variables",
        '{"v": ' + _nested(300) + "}",
        errors=("too_deep",),
        field="body.v.k",
    ),
    # The body cap, auth included
    BadInput(
        "3 MiB register body",
        "gateway",
        "POST",
        "/auth/register",
        json.dumps({"email": "big@example.com", "password": "x" * THREE_MIB}),
        status=413,
        errors=("payload_too_large",),
    ),
    BadInput(
        "3 MiB login body",
        "gateway",
        "POST",
        "/auth/login",
        json.dumps({"email": "big@example.com", "password": "x" * THREE_MIB}),
        status=413,
        errors=("payload_too_large",),
    ),
]


def check(case: BadInput, status: int, payload: Any) -> None:
    assert status == case.status, (case.name, status, payload)
    assert isinstance(payload, dict) and set(payload) == {"error", "detail"}, (case.name, payload)
    assert payload["error"] in case.errors, (case.name, payload)
    assert isinstance(payload["detail"], str) and payload["detail"].startswith(case.field), (case.name, payload)
