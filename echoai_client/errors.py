"""Every failure the client reports is an `EchoAIError`; answers of the API carry its `error` code and `detail`."""

from __future__ import annotations

from typing import Any


class EchoAIError(Exception):
    """Base of every error this package raises."""


class EchoAPIError(EchoAIError):
    """The API answered with an error: `{"error": <code>, "detail": <sentence>}` and an HTTP status."""

    def __init__(self, status: int, error: str, detail: str, body: Any = None):
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.body = body


class BadRequest(EchoAPIError):
    """400."""


class Unauthorized(EchoAPIError):
    """401: no token, a bad one or an expired one; log in again."""


class NotFound(EchoAPIError):
    """404: no such object for this user."""


class Conflict(EchoAPIError):
    """409: taken, already decided, already finished."""


class PayloadTooLarge(EchoAPIError):
    """413."""


class ValidationFailed(EchoAPIError):
    """422: the request's content was refused; `detail` names the field."""


class RateLimited(EchoAPIError):
    """429: too many attempts; `retry_after` seconds to wait when the API said so."""

    retry_after: float | None = None


class Unavailable(EchoAPIError):
    """502, 503, 504: a service or a server behind the gateway is away; retry later."""


class ConnectionFailed(EchoAIError):
    """The gateway could not be reached at all."""


class StreamError(EchoAIError):
    """The event stream cannot go on."""


class StreamRefused(StreamError):
    """The gateway closed the stream with 1008: a bad token, or not this user's run."""

    def __init__(self, run_id: str, reason: str):
        super().__init__(f"the event stream of run {run_id} was refused: {reason or 'policy violation'}")
        self.run_id = run_id
        self.reason = reason


class StreamGap(StreamError):
    """Events the stream has not delivered are no longer held by any gateway (one restarted while they were
    published, or the run finished longer ago than the gateway keeps events). Rather than skip them the stream
    stops here; `after_seq` is the last event it delivered. The run's recorded steps are at `Client.run_steps`."""

    def __init__(self, run_id: str, after_seq: int, next_seq: int | None):
        where = f"seq {after_seq + 1}..{next_seq - 1}" if next_seq else f"the events after seq {after_seq}"
        super().__init__(f"run {run_id}: {where} can no longer be replayed by the gateway")
        self.run_id = run_id
        self.after_seq = after_seq
        self.next_seq = next_seq


_BY_STATUS: dict[int, type[EchoAPIError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
    429: RateLimited,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}


def api_error(status: int, body: Any, headers: dict[str, str] | None = None) -> EchoAPIError:
    """The exception for an error answer; tolerant of bodies that are not the usual `{"error", "detail"}`."""
    error, detail = f"http_{status}", ""
    if isinstance(body, dict):
        error = str(body.get("error") or error)
        raw = body.get("detail")
        detail = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
    elif isinstance(body, str):
        detail = body[:500]
    cls = _BY_STATUS.get(status, EchoAPIError)
    exc = cls(status, error, detail or f"HTTP {status}", body)
    if isinstance(exc, RateLimited) and headers:
        retry = headers.get("retry-after", "")
        exc.retry_after = float(retry) if retry.replace(".", "", 1).isdigit() else None
    return exc
