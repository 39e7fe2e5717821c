"""The error answers each route really gives, declared for the API document; their body is the shared `Error`
schema (`{error, detail}`) that the one error handler sends."""

from __future__ import annotations

from typing import Any

_MEANING = {
    400: "The cursor is not one this API handed out (`invalid_cursor`).",
    401: "No valid bearer token.",
    404: "Not in your account: another user's object answers exactly as one that never existed.",
    409: "The ID is already one of yours (`agent_exists`, `tool_exists`), or a builtin tool (`read_only_tool`).",
    413: "The request body is over the size limit (`payload_too_large`).",
    422: "A field, parameter or the body is invalid (`validation_error`); the detail names each one.",
    503: "The temp working copy could not be written (`storage_unavailable`).",
}


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: 401 and 422 always, plus `codes`."""
    # The body of each is the shared `Error` schema (`shared/openapi.py` adds it to every error answer).
    return {code: {"description": _MEANING[code]} for code in sorted({401, 422, *codes})}
