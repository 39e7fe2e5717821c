"""One error hierarchy, rendered by one handler as `{"error": code, "detail": sentence}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("echoai.errors")


class EchoError(Exception):
    status_code = 400
    error = "bad_request"

    def __init__(self, detail: str, *, error: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        if error:
            self.error = error
        self.headers = headers


class BadRequest(EchoError):
    status_code, error = 400, "bad_request"


class Unauthorized(EchoError):
    status_code, error = 401, "unauthorized"

    def __init__(self, detail: str, *, error: str | None = None):
        super().__init__(detail, error=error, headers={"WWW-Authenticate": "Bearer"})


class NotFound(EchoError):
    status_code, error = 404, "not_found"


class Conflict(EchoError):
    status_code, error = 409, "conflict"


class PayloadTooLarge(EchoError):
    status_code, error = 413, "payload_too_large"


class Unprocessable(EchoError):
    status_code, error = 422, "validation_error"


class BadGateway(EchoError):
    status_code, error = 502, "bad_gateway"


class ServiceUnavailable(EchoError):
    status_code, error = 503, "service_unavailable"


class GatewayTimeout(EchoError):
    status_code, error = 504, "gateway_timeout"


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


def error_body(error: str, detail: str) -> dict[str, str]:
    return {"error": error, "detail": detail}


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


def describe_validation_errors(errors: list[dict[str, Any]]) -> str:
    """Turn pydantic errors into one sentence naming every field path."""
    sentences = []
    for err in errors[:10]:
        where = _loc(err.get("loc", ()))
        msg = str(err.get("msg", "is invalid")).rstrip(".")
        if err.get("type") == "json_invalid":
            sentences.append("The request body is not valid JSON.")
            continue
        sentences.append(f"{where}: {msg}.")
    if len(errors) > 10:
        sentences.append(f"(and {len(errors) - 10} more)")
    return " ".join(sentences)


async def _echo_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EchoError)
    return JSONResponse(error_body(exc.error, exc.detail), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(error_body("validation_error", describe_validation_errors(list(exc.errors()))), status_code=422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such endpoint; check the path against the API documentation at /docs."
    if exc.status_code == 405:
        detail = "This endpoint does not accept that HTTP method."
    return JSONResponse(error_body(code, detail), status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body("internal_error", "Something went wrong on our side; the request id in the logs explains it."),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(EchoError, _echo_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
