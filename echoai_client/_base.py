"""What `Client` and `AsyncClient` share: configuration, headers and reading an answer."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import httpx

from echoai_client import config
from echoai_client.calls import Call
from echoai_client.errors import ConnectionFailed, api_error

T = TypeVar("T")
USER_AGENT = "echoai-client/0.1"


class BaseClient:
    def __init__(self, base_url: str | None = None, token: str | None = None):
        self.base_url = config.base_url(base_url)
        self.token = config.resolve_token(self.base_url, token)

    def _headers(self, call: Call[Any]) -> dict[str, str]:
        if call.auth and self.token:
            return {"Authorization": f"Bearer {self.token}"}
        return {}

    def save_credentials(self, email: str | None = None) -> str:
        """Keep the current token in the credentials file (mode 0600) for this gateway; returns the path."""
        if not self.token:
            raise ValueError("no token to save; log in first")
        return str(config.save_token(self.base_url, self.token, email))


def read_answer(call: Call[T], resp: httpx.Response) -> T:
    if resp.status_code >= 400:
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text
        raise api_error(resp.status_code, body, dict(resp.headers))
    if resp.status_code == 204 or not resp.content:
        return call.parse(None)
    return call.parse(resp.json())


def unreachable(base_url: str, exc: httpx.TransportError) -> ConnectionFailed:
    return ConnectionFailed(f"cannot reach the gateway at {base_url} ({type(exc).__name__}); is it running?")


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
