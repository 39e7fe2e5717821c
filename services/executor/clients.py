"""The workflow and session services, called over HTTP on the caller's behalf (their bearer token forwarded).
Each answer is checked against the model of `shared/contracts.py` the sibling serves, so the run code reads
typed fields, and a sibling answering something else is a clear 503 rather than a KeyError deep in a run."""

from __future__ import annotations

import json as jsonlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ValidationError

from shared import http
from shared.auth import CurrentUser
from shared.contracts import MessageOut, SessionRunSetup, ToolOut, WorkflowOut
from shared.errors import EchoError, NotFound, ServiceUnavailable
from shared.logging import request_id_var
from shared.settings import Settings

log = logging.getLogger("echoai.executor.clients")

M = TypeVar("M", bound=BaseModel)


def make_session() -> aiohttp.ClientSession:
    # A send waits for these answers, and must answer within seconds itself.
    return http.make_session(timeout=aiohttp.ClientTimeout(total=10.0, connect=2.0), limit=100)


@dataclass(frozen=True)
class Answer:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class Upstream:
    """One caller's view of the other services."""

    def __init__(self, session: aiohttp.ClientSession, settings: Settings, user: CurrentUser):
        self.http = session
        self.settings = settings
        self.headers = {"x-request-id": request_id_var.get() or uuid.uuid4().hex}
        if user.token:
            self.headers["Authorization"] = f"Bearer {user.token}"

    async def _call(self, service: str, method: str, path: str, json: Any = None) -> Answer:
        url = self.settings.service_url(service) + path  # type: ignore[arg-type]
        try:
            async with self.http.request(method, url, json=json, headers=self.headers) as resp:
                return Answer(resp.status, await resp.read())
        except http.FAILURES as exc:
            log.warning("%s unreachable for %s %s: %s", service, method, path, type(exc).__name__)
            raise ServiceUnavailable(
                f"The {service} service is unreachable, so the run was not started; try again in a moment.",
                error="upstream_unavailable",
            ) from None

    @staticmethod
    def _unexpected(service: str, resp: Answer) -> EchoError:
        log.warning("%s answered %s: %s", service, resp.status_code, resp.text[:300])
        return ServiceUnavailable(
            f"The {service} service answered {resp.status_code}, so the run was not started; try again in a moment.",
            error="upstream_error",
        )

    def _read(self, service: str, resp: Answer, model: type[M]) -> M:
        try:
            return model.model_validate_json(resp.content)
        except ValidationError as exc:
            log.warning("%s answered a %s that does not fit: %s", service, model.__name__, exc.errors()[:3])
            raise ServiceUnavailable(
                f"The {service} service answered in a shape this executor does not read, so the run was not "
                "started; the services may be at different versions.",
                error="upstream_error",
            ) from None

    async def workflow(self, workflow_id: uuid.UUID) -> WorkflowOut:
        resp = await self._call("workflow", "GET", f"/workflows/{workflow_id}")
        if resp.status_code == 404:
            raise NotFound(f"Workflow {workflow_id} does not exist (or is not yours).", error="workflow_not_found")
        if resp.status_code != 200:
            raise self._unexpected("workflow", resp)
        return self._read("workflow", resp, WorkflowOut)

    async def tool(self, ref: str) -> ToolOut | None:
        """None when the reference names no tool of the caller's (not found, or not an id at all)."""
        resp = await self._call("workflow", "GET", f"/tools/{quote(ref, safe='')}")
        if resp.status_code in (404, 422):
            return None
        if resp.status_code != 200:
            raise self._unexpected("workflow", resp)
        return self._read("workflow", resp, ToolOut)

    async def run_setup(self, session_id: uuid.UUID) -> SessionRunSetup:
        """Variables, selected tools and tool configs of the session in one call, without its messages."""
        resp = await self._call("session", "GET", f"/sessions/{session_id}/run-setup")
        if resp.status_code == 404:
            if _error_of(resp) != "session_not_found":
                # The route itself is missing: a session service older than this executor (roll it out first).
                raise self._unexpected("session", resp)
            raise NotFound(f"Session {session_id} does not exist (or is not yours).", error="session_not_found")
        if resp.status_code != 200:
            raise self._unexpected("session", resp)
        return self._read("session", resp, SessionRunSetup)

    async def add_message(
        self, session_id: uuid.UUID, *, content: str, run_id: uuid.UUID, metadata: dict[str, Any]
    ) -> MessageOut:
        body = {"role": "user", "content": content, "metadata": metadata, "run_id": str(run_id)}
        resp = await self._call("session", "POST", f"/sessions/{session_id}/messages", json=body)
        if resp.status_code == 404:
            raise NotFound(f"Session {session_id} does not exist (or is not yours).", error="session_not_found")
        if resp.status_code in (400, 409, 413, 422):
            raise _relayed(resp)
        if resp.status_code not in (200, 201):
            raise self._unexpected("session", resp)
        return self._read("session", resp, MessageOut)

    async def remove_message(self, session_id: uuid.UUID, message_id: str) -> bool:
        try:
            resp = await self._call(
                "session", "DELETE", f"/sessions/{session_id}/messages/{quote(message_id, safe='')}"
            )
        except ServiceUnavailable:
            return False
        return resp.status_code in (204, 404)

    async def record_run(self, session_id: uuid.UUID, run_id: uuid.UUID) -> None:
        resp = await self._call("session", "POST", f"/sessions/{session_id}/run", json={"run_id": str(run_id)})
        if resp.status_code >= 300:
            log.warning("session %s did not record run %s: %s", session_id, run_id, resp.status_code)


def _relayed(resp: Answer) -> EchoError:
    """The session service refused the message for a reason the caller can fix: pass its answer on."""
    body = _json_object(resp)
    if "error" in body and "detail" in body:
        relayed = EchoError(str(body["detail"]), error=str(body["error"]))
    else:
        relayed = EchoError("The session refused the message.", error="invalid_message")
    relayed.status_code = resp.status_code
    return relayed


def _error_of(resp: Answer) -> str | None:
    error = _json_object(resp).get("error")
    return None if error is None else str(error)


def _json_object(resp: Answer) -> dict[str, Any]:
    """A service's answer read as a JSON object; empty when it is not one."""
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
