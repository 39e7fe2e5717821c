"""One error hierarchy, rendered by one handler as `{"error": code, "detail": sentence}`.

Whatever else goes wrong in a request is answered in the same shape: PostgreSQL out of reach is a 503
`database_unavailable`, a value PostgreSQL refused is a 422 `invalid_input` (the edge checks in
`shared.validation` should have caught it first), anything else a logged 500 `internal_error`.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import is_bad_value, is_database_outage

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
    return error_response(exc)


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


def _database_down() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The database cannot be reached right now, so nothing was read or changed; try again in a moment.",
        error="database_unavailable",
    )


def _value_refused() -> Unprocessable:
    return Unprocessable(
        "A value in this request cannot be stored: text with a NUL character or an unpaired surrogate, or a "
        "number out of range. Fix the value and send the request again.",
        error="invalid_input",
    )


def error_response(exc: EchoError) -> JSONResponse:
    return JSONResponse(error_body(exc.error, exc.detail), status_code=exc.status_code, headers=exc.headers)


def response_for(request: Request | None, exc: Exception) -> JSONResponse:
    """The answer for an exception no route turned into an `EchoError`: 503 when PostgreSQL is out of reach, 422
    when it refused a value the request carried, otherwise a logged 500. Always `{error, detail}`."""
    where = f"{request.method} {request.url.path}" if request is not None else "a request"
    if is_database_outage(exc):
        log.warning("database unavailable for %s: %s", where, type(exc).__name__)
        return error_response(_database_down())
    if is_bad_value(exc):
        log.warning("database refused a value of %s", where, exc_info=exc)
        return error_response(_value_refused())
    log.error("unhandled error on %s", where, exc_info=exc)
    return JSONResponse(
        error_body("internal_error", "Something went wrong on our side; the request id in the logs explains it."),
        status_code=500,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return response_for(request, exc)


class ErrorBoundary:
    """Pure ASGI middleware around everything below it (routes and the other middleware).

    An exception that escapes turns into the same `{error, detail}` answer the handlers give, and the exception
    stops here. Letting it travel on to the server would make it close the connection after the answer, and a
    proxy that pooled that connection would fail the next request it sends over it, often another user's."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:  # half an answer is out; only closing the connection tells the client
                raise
            await response_for(Request(scope), exc)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(EchoError, _echo_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # The driver's and the network's errors are answered where routes raise them, so the metrics see the status.
    for kind in (SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
        app.add_exception_handler(kind, _unexpected)
    # Reached only for errors raised outside the routes and outside `ErrorBoundary`.
    app.add_exception_handler(Exception, _unexpected)
