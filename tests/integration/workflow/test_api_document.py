"""The API document declares the error answers the routes give, in the `{error, detail}` shape they are sent in."""

from __future__ import annotations

import httpx
import pytest

from services.workflow.builtin_tools import CALCULATOR_TOOL_ID
from tests.integration.workflow.conftest import Caller, definition

pytestmark = pytest.mark.integration

OURS = ("/workflows", "/agents", "/tools")


async def test_every_error_answer_is_declared_with_the_error_shape(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert set(document["components"]["schemas"]["Error"]["required"]) == {"error", "detail"}
    operations = [
        (path, method, op)
        for path, item in document["paths"].items()
        if path.startswith(OURS)
        for method, op in item.items()
    ]
    assert len(operations) == 20  # 10 workflow, 5 agent and 5 tool routes
    for path, method, op in operations:
        errors = {code: answer for code, answer in op["responses"].items() if code[0] in "45"}
        assert {"401", "422"} <= set(errors), (method, path)
        for answer in errors.values():
            ref = answer["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", (method, path)
    assert "HTTPValidationError" not in str({p: i for p, i in document["paths"].items() if p.startswith(OURS)}), (
        "FastAPI's own 422 shape is not what these routes send"
    )


async def test_answers_seen_are_answers_declared(client: httpx.AsyncClient, alice: Caller) -> None:
    document = (await client.get("/openapi.json")).json()
    wid = (await alice.save(definition("Declared"), "final"))["workflow_id"]
    seen = [
        ("get", "/workflows/{workflow_id}", await alice.get("/workflows/00000000-0000-4000-8000-000000000000")),
        ("get", "/workflows", await alice.get("/workflows", params={"cursor": "nope!"})),
        ("get", "/workflows/{workflow_id}/versions/{version}", await alice.get(f"/workflows/{wid}/versions/9")),
        ("post", "/agents", await alice.post("/agents", json={"agent_id": "agt_twice", "name": "A"})),
        ("post", "/agents", await alice.post("/agents", json={"agent_id": "agt_twice", "name": "A"})),
        (
            "put",
            "/tools/{tool_id}",
            await alice.put(f"/tools/{CALCULATOR_TOOL_ID}", json={"name": "x", "tool_type": "custom"}),
        ),
        ("post", "/tools", await alice.post("/tools", json={"name": "x"})),
    ]
    for method, path, r in seen:
        assert str(r.status_code) in document["paths"][path][method]["responses"], (method, path, r.status_code)
