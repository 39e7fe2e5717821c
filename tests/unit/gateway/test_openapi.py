"""The merged API document: which paths are public, how clashing component names are resolved, when a service's
part is fetched again (over a fake transport)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from services.gateway.openapi import ApiDocument, component_renames, merge, public_part
from tests.support.stand_in import down, serving


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def op(schema: str, **extra: Any) -> dict[str, Any]:
    return {
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": ref(schema)}}}},
        **extra,
    }


def doc(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


OWN = doc(
    {"/auth/me": {"get": op("UserOut")}, "/workflows/execution/{run_id}/steps": {"get": op("RunStepsOut")}},
    {
        "UserOut": {"type": "object"},
        "RunStepsOut": {"type": "object", "items": ref("StepOut")},
        "StepOut": {"type": "object", "title": "gateway"},
    },
)
EXECUTOR = doc(
    {
        "/health/db": {"get": op("Health")},
        "/metrics": {"get": op("Health")},
        "/workflows/chat/send": {"post": op("SendOut")},
        "/executions/{run_id}/steps": {"get": op("StepsOut"), "head": op("StepsOut")},
        "/workflows/execution/{run_id}/steps": {"get": op("StepsOut")},
    },
    {
        "Health": {"type": "object"},
        "SendOut": {"type": "object"},
        "StepsOut": {"type": "object", "properties": {"steps": {"items": ref("StepOut")}}},
        "StepOut": {"type": "object", "title": "executor"},
        "Error": {"type": "object", "required": ["error", "detail"]},
    },
)
WORKFLOW = doc(
    {"/workflows": {"get": op("Page")}, "/workflows/chat/send": {"post": op("Page")}, "/sessions": {"get": op("Page")}},
    {"Page": {"type": "object"}, "Error": {"type": "object", "required": ["error", "detail"]}},
)


def test_only_what_the_proxy_routes_to_the_service_is_public() -> None:
    executor = public_part("executor", EXECUTOR, OWN["paths"])
    # Health and metrics are not routed; the steps path under /workflows is the gateway's own; HEAD is not proxied.
    assert sorted(executor["paths"]) == ["/executions/{run_id}/steps", "/workflows/chat/send"]
    assert list(executor["paths"]["/executions/{run_id}/steps"]) == ["get"]
    workflow = public_part("workflow", WORKFLOW, OWN["paths"])
    # chat/send goes to the executor and /sessions to the session service, whatever the workflow service says.
    assert sorted(workflow["paths"]) == ["/workflows"]


def test_clashing_components_are_prefixed_and_refs_follow() -> None:
    parts = {
        "executor": public_part("executor", EXECUTOR, OWN["paths"]),
        "workflow": public_part("workflow", WORKFLOW, OWN["paths"]),
    }
    merged = merge(OWN, parts, ["The session service has not been reachable yet."])
    schemas = merged["components"]["schemas"]
    assert schemas["StepOut"]["title"] == "gateway"  # the gateway keeps its names
    assert schemas["executor_StepOut"]["title"] == "executor"
    # StepsOut is identical text in one document only, but it refers to a clashing name: rewritten, not shared.
    assert schemas["StepsOut"]["properties"]["steps"]["items"] == ref("executor_StepOut")
    assert "Error" in schemas and "executor_Error" not in schemas and "workflow_Error" not in schemas
    assert (
        merged["paths"]["/workflows/execution/{run_id}/steps"]["get"]
        == OWN["paths"]["/workflows/execution/{run_id}/steps"]["get"]
    )
    assert sorted(merged["paths"]) == [
        "/auth/me",
        "/executions/{run_id}/steps",
        "/workflows",
        "/workflows/chat/send",
        "/workflows/execution/{run_id}/steps",
    ]
    assert "session service has not been reachable" in merged["info"]["description"]
    # Every $ref in the result resolves.
    text = str(merged)
    for name in schemas:
        text = text.replace(f"#/components/schemas/{name}'", "")
    assert "#/components/schemas/" not in text


def test_a_clash_between_two_services_prefixes_both() -> None:
    a = doc({}, {"Item": {"type": "object", "title": "a"}})
    b = doc({}, {"Item": {"type": "object", "title": "b"}})
    renames = component_renames({"gateway": doc({}, {}), "workflow": a, "session": b})
    assert renames["workflow"] == {("schemas", "Item"): "workflow_Item"}
    assert renames["session"] == {("schemas", "Item"): "session_Item"}


class Services:
    """Fake services: each answers its document, or is down."""

    def __init__(self) -> None:
        self.docs = {
            "workflow": WORKFLOW,
            "session": doc({"/sessions": {"get": op("S")}}, {"S": {}}),
            "executor": EXECUTOR,
        }
        self.down: set[str] = set()
        self.calls = 0

    def handler(self, request: web.Request) -> web.Response:
        self.calls += 1
        return web.json_response(self.docs[request.path.split("/")[1]])


async def test_parts_are_refetched_when_stale_and_kept_while_a_service_is_down() -> None:
    services, nowhere = Services(), down()
    async with serving(services.handler) as (http, url):

        def service_url(name: str) -> str:  # a service that is down refuses the connection
            return nowhere if name in services.down else f"{url}/{name}"

        document = ApiDocument(lambda: OWN, http, service_url, refresh_seconds=0.2)
        services.down.add("session")
        first = await document.document()
        assert "/sessions" not in first["paths"]
        assert "The session service has not been reachable yet" in first["info"]["description"]

        services.down.clear()
        second = await document.document()  # a failed part is fetched again at once
        assert "/sessions" in second["paths"] and "reachable" not in second["info"].get("description", "")

        calls = services.calls
        await document.document()
        assert services.calls == calls  # fresh parts are not fetched again

        services.docs["workflow"] = doc(
            {"/workflows": {"get": op("Page")}, "/agents": {"get": op("Page")}}, {"Page": {}}
        )
        services.down.add("session")
        await asyncio.sleep(0.25)
        third = await document.document()
        assert "/agents" in third["paths"]  # a restarted service's new document is seen
        assert "/sessions" in third["paths"]  # a service that is down keeps its last part
        assert "The session service is unreachable now" in third["info"]["description"]
