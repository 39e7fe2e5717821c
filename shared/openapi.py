"""What every service's own API document says about errors and auth, so it matches what the services answer.

Every error goes through one handler as `{"error", "detail"}` (see `shared/errors.py`), including request
validation, so FastAPI's default `HTTPValidationError` (a list of pydantic errors) is replaced by that shape, and
every operation documents its 4xx answers with it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

ERROR_SCHEMA = "Error"
_ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": dict(_ERROR_REF)}}}


def document_errors(doc: dict[str, Any]) -> dict[str, Any]:
    """Rewrite one generated document in place: 422 and every other 4xx answer carry `{"error", "detail"}`."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA] = {
        "title": ERROR_SCHEMA,
        "type": "object",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "title": "Error", "description": "a machine-readable code"},
            "detail": {"type": "string", "title": "Detail", "description": "a sentence a person can act on"},
        },
    }
    for item in doc.get("paths", {}).values():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _error_response("The request does not fit the schema; the detail names each field.")
            responses.setdefault("4XX", _error_response("An error the caller can act on, named in the detail."))
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    return doc


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
