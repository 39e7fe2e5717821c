"""What the session service sends is what its OpenAPI document declares: every route has a response model, and
the bodies of a round of requests validate against those models (which refuse keys they do not declare)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from pydantic import BaseModel

from services.session.schemas import (
    MessageOut,
    MessagePage,
    RunIdsOut,
    RunSetupOut,
    SessionOut,
    SessionPage,
    ToolConfigOut,
    ToolConfigPage,
    ToolsOut,
    VariablesOut,
)
from tests.integration.session.conftest import new_session

pytestmark = pytest.mark.integration

DECLARED: dict[tuple[str, str], type[BaseModel]] = {
    ("get", "/sessions"): SessionPage,
    ("post", "/sessions"): SessionOut,
    ("get", "/sessions/{session_id}"): SessionOut,
    ("patch", "/sessions/{session_id}/title"): SessionOut,
    ("patch", "/sessions/{session_id}/context"): SessionOut,
    ("patch", "/sessions/{session_id}/variables"): VariablesOut,
    ("post", "/sessions/{session_id}/tools"): ToolsOut,
    ("get", "/sessions/{session_id}/tools/configs"): ToolConfigPage,
    ("put", "/sessions/{session_id}/tools/{tool_id}/config"): ToolConfigOut,
    ("post", "/sessions/{session_id}/messages"): MessageOut,
    ("get", "/sessions/{session_id}/messages"): MessagePage,
    ("post", "/sessions/{session_id}/run"): RunIdsOut,
    ("get", "/sessions/{session_id}/run-setup"): RunSetupOut,
}


async def test_openapi_declares_the_real_response_models(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for (method, path), model in DECLARED.items():
        responses = paths[path][method]["responses"]
        status = next(code for code in responses if code.startswith("2"))
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model.__name__}"}, (method, path, schema)
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert schemas["SessionOut"]["additionalProperties"] is False
    assert schemas["MessageOut"]["properties"]["created_at"]["format"] == "date-time"
    every = {(m, p) for p, ops in paths.items() if p.startswith("/sessions") for m in ops if m != "delete"}
    assert every == set(DECLARED)


async def test_every_body_validates_against_its_declared_model(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    async def call(method: str, path: str, template: str, **kwargs: object) -> BaseModel:
        r = await client.request(method, path, headers=alice, **kwargs)  # type: ignore[arg-type]
        assert r.status_code in (200, 201), r.text
        return DECLARED[(method.lower(), template)].model_validate_json(r.content)

    session = await call("POST", "/sessions", "/sessions", json={"title": "Shapes", "variables": {"a": 1}})
    assert isinstance(session, SessionOut)
    sid, base = session.session_id, "/sessions/{session_id}"
    path = f"/sessions/{sid}"
    run = uuid.uuid4()
    message = await call(
        "POST", f"{path}/messages", f"{base}/messages", json={"role": "user", "content": "hi", "run_id": str(run)}
    )
    assert isinstance(message, MessageOut) and message.seq == 1 and message.run_id == run
    await call("PATCH", f"{path}/title", f"{base}/title", json={"title": "Renamed"})
    await call("PATCH", f"{path}/context", f"{base}/context", json={"context_type": "agent", "context_id": "a1"})
    await call("PATCH", f"{path}/variables", f"{base}/variables", json={"b": {"c": None}})
    await call("POST", f"{path}/tools", f"{base}/tools", json={"tool_ids": ["t1"]})
    await call("PUT", f"{path}/tools/t1/config", f"{base}/tools/{{tool_id}}/config", json={"config": {"k": 1}})
    await call("GET", f"{path}/tools/configs", f"{base}/tools/configs")
    await call("POST", f"{path}/run", f"{base}/run", json={"run_id": str(run)})
    setup = await call("GET", f"{path}/run-setup", f"{base}/run-setup")
    assert isinstance(setup, RunSetupOut) and setup.tool_configs == {"t1": {"k": 1}}
    page = await call("GET", f"{path}/messages", f"{base}/messages")
    assert isinstance(page, MessagePage) and page.items == [message] and page.last_seq == 1
    full = await call("GET", path, base)
    assert isinstance(full, SessionOut)
    assert full.messages == [message] and full.title == "Renamed" and full.variables == {"a": 1, "b": {}}
    listed = await call("GET", "/sessions", "/sessions")
    assert isinstance(listed, SessionPage) and listed.items[0].session_id == sid


async def test_sent_json_is_what_the_models_dump(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    """Whole sessions are sent as PostgreSQL rendered them (after the check); the models dump the same JSON,
    timestamps included (six digits of microseconds, `Z`), so both paths give one format."""
    sid = (await new_session(client, alice, variables={"k": [1, "x"]}))["session_id"]
    for i in range(3):
        await client.post(f"/sessions/{sid}/messages", json={"role": "user", "content": f"m{i}"}, headers=alice)
    raw = (await client.get(f"/sessions/{sid}", headers=alice)).content
    assert json.loads(SessionOut.model_validate_json(raw).model_dump_json()) == json.loads(raw)
