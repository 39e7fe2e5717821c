"""Calls from the gateway to the services behind it (besides the proxy): what the executor says about a run the
gateway has not seen events for, whose it is and where it stands.

The executor answers `GET /executions/{run_id}` with the caller's token and 404 for someone else's run, so asking
it with the caller's token is the ownership check. Positive answers are cached per (run, user).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpx

from services.gateway.fanout.state import Clock
from shared.auth import CurrentUser
from shared.contracts import TERMINAL_STATUSES

log = logging.getLogger("echoai.gateway.fanout")

STEP_FIELDS = ("step_id", "agent_id", "agent_name", "status", "output", "error", "started_at", "completed_at")


class ExecutorUnavailable(Exception):
    """The executor could not be asked (down, timing out, or answering 5xx)."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    status: str | None
    body: dict[str, Any]

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class ExecutorRuns:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        timeout: float = 5.0,
        cache_ttl: float = 600.0,
        cache_size: int = 20_000,
        clock: Clock = time.monotonic,
    ):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.cache_ttl = cache_ttl
        self.cache_size = cache_size
        self.clock = clock
        self._allowed: OrderedDict[tuple[uuid.UUID, uuid.UUID], float] = OrderedDict()

    def allowed(self, run_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        key = (run_id, user_id)
        expires = self._allowed.get(key)
        if expires is None:
            return False
        if expires <= self.clock():
            del self._allowed[key]
            return False
        return True

    def remember(self, run_id: uuid.UUID, user_id: uuid.UUID) -> None:
        key = (run_id, user_id)
        self._allowed[key] = self.clock() + self.cache_ttl
        self._allowed.move_to_end(key)
        while len(self._allowed) > self.cache_size:
            self._allowed.popitem(last=False)

    async def _get(self, path: str, user: CurrentUser) -> httpx.Response:
        headers = {"Authorization": f"Bearer {user.token}"} if user.token else {}
        try:
            resp = await self.http.get(f"{self.base_url}{path}", headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            log.warning("executor unreachable for %s: %s", path.split("?")[0], type(exc).__name__)
            raise ExecutorUnavailable(type(exc).__name__) from None
        if resp.status_code >= 500:
            raise ExecutorUnavailable(f"HTTP {resp.status_code}")
        return resp

    async def lookup(self, run_id: uuid.UUID, user: CurrentUser) -> RunInfo | None:
        """The run as the executor sees it, or None when it is not this user's (or does not exist)."""
        resp = await self._get(f"/executions/{run_id}", user)
        if resp.status_code != 200:
            # 404 is "not yours"; 401/403/422 are just as much a no for this caller.
            return None
        body = resp.json()
        self.remember(run_id, user.user_id)
        return RunInfo(body.get("status") if isinstance(body, dict) else None, body if isinstance(body, dict) else {})

    async def steps(self, run_id: uuid.UUID, user: CurrentUser) -> dict[str, Any] | None:
        """The steps body for a run the gateway holds nothing for; None when it is not this user's.

        The executor's own `/executions/{run_id}/steps` wins when it has one; otherwise the run's status
        with no steps (the events that would tell the steps are gone).
        """
        resp = await self._get(f"/executions/{run_id}/steps", user)
        if resp.status_code == 200:
            body = resp.json()
            if isinstance(body, dict) and isinstance(body.get("steps"), list):
                self.remember(run_id, user.user_id)
                return {
                    "run_id": str(run_id),
                    "status": body.get("status"),
                    "last_seq": int(body.get("last_seq") or 0),
                    "steps": [{k: s.get(k) for k in STEP_FIELDS} for s in body["steps"] if isinstance(s, dict)],
                }
        # A 404 here is either "no such route" or "not yours": the run itself decides.
        info = await self.lookup(run_id, user)
        if info is None:
            return None
        return {"run_id": str(run_id), "status": info.status, "last_seq": 0, "steps": []}
