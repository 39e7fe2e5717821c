"""Each service's OpenAPI document states the error answers it really gives, in the shape it really gives them.

FastAPI documents its own 422 body (`HTTPValidationError`) and nothing else; every error here is
`{"error", "detail"}`. The document is rewritten once, when first served: every 4xx/5xx answer references one
`Error` schema, and the answers the shared edge gives are added where they apply:

- 422 everywhere (any request may carry unstorable text in its query, path or body);
- 413 on POST, PUT and PATCH (the 2 MiB body cap);
- 401 where the route needs the caller, 404 where the path names an object, 400 where a list takes a cursor;
- 503 where the route uses the database.

A route declares the rest (409, 429, its own 503) with `responses=error_responses(409, ...)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from shared.auth import get_current_user
from shared.db import request_session

ERROR_REF = "#/components/schemas/Error"
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "A machine-readable code, e.g. `invalid_text`."},
        "detail": {"type": "string", "description": "A sentence a person can act on; it names the wrong field."},
    },
}
DESCRIPTIONS = {
    400: "The request is malformed, e.g. a cursor this list did not issue (`invalid_cursor`).",
    401: "No valid bearer token (`unauthorized`, `invalid_token`, `token_expired`).",
    404: "No such object, or it is not yours (`not_found`).",
    409: "The request conflicts with the current state; `error` says how.",
    413: "The request body is over 2 MiB (`payload_too_large`).",
    422: (
        "A field is invalid and `detail` names it: `validation_error`, or text PostgreSQL cannot store "
        "(`invalid_text`: NUL, unpaired surrogates), a non-finite or oversized number (`invalid_number`), JSON "
        "nested more than 64 levels (`too_deep`)."
    ),
    429: "Too many attempts; wait for the `Retry-After` header's seconds.",
    503: "A backing service is out of reach (`database_unavailable`, `broker_unavailable`); try again shortly.",
}
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """For a route's `responses=`: the answers it gives beyond the ones added for every route."""
    return {code: {"description": DESCRIPTIONS.get(code, "An error.")} for code in codes}


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    todo = [dependant]
    while todo:
        current = todo.pop()
        yield current
        todo.extend(current.dependencies)


def _codes(dependant: Dependant, method: str) -> set[int]:
    every = list(_dependants(dependant))
    calls = {d.call for d in every}
    codes = {422}
    if method in _WITH_BODY:
        codes.add(413)
    if get_current_user in calls:
        codes.add(401)
    if any(d.path_params for d in every):
        codes.add(404)
    if any(p.name == "cursor" for d in every for p in d.query_params):
        codes.add(400)
    if request_session in calls:
        codes.add(503)
    return codes


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": ERROR_REF}}}


def document_errors(schema: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    # Included routers stay nested in the app's routes; FastAPI's own document walks them the same way.
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for added in _codes(route.dependant, method):
                responses.setdefault(str(added), {"description": DESCRIPTIONS[added]})
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = _error_content()
                    if int(code) in DESCRIPTIONS and response.get("description") in (None, "", "Validation Error"):
                        response["description"] = DESCRIPTIONS[int(code)]
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    # FastAPI's own 422 shape, now referenced by nothing (ValidationError only from within HTTPValidationError).
    if '"#/components/schemas/HTTPValidationError"' not in json.dumps(schema.get("paths", {})):
        components.pop("HTTPValidationError", None)
        if '"#/components/schemas/ValidationError"' not in json.dumps(components):
            components.pop("ValidationError", None)
    return schema


def install_error_docs(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build(), list(app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
