"""Calls from the gateway to the services behind it (besides the proxy): what the executor says about a run the
gateway has not seen events for, whose it is and where it stands; and each service's health.

The executor answers `GET /executions/{run_id}` with the caller's token and 404 for someone else's run, so asking
it with the caller's token is the ownership check. Positive answers are cached per (run, user).

They go over the proxy's aiohttp session (`shared.http`): all of them are GETs, which aiohttp sends once more on a
new connection when a pooled one turns out dead (see `proxy`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from typing import TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from services.gateway.fanout.state import Clock
from services.gateway.proxy import Upstream
from services.gateway.schemas import ServiceStateOut
from shared.auth import CurrentUser
from shared.contracts import RunOut, RunStepsOut
from shared.http import FAILURES
from shared.settings import Settings

log = logging.getLogger("echoai.gateway.fanout")

M = TypeVar("M", bound=BaseModel)


class ExecutorUnavailable(Exception):
    """The executor could not be asked (down, timing out, answering 5xx or something unreadable)."""


class ExecutorRuns:
    def __init__(
        self,
        http: aiohttp.ClientSession,
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

    async def _get(self, path: str, user: CurrentUser, model: type[M]) -> M | None:
        """The answer as `model`; None for any 4xx (404 is "not yours"; 401/403/422 are just as much a no)."""
        headers = {"Authorization": f"Bearer {user.token}"} if user.token else {}
        try:
            async with self.http.get(
                f"{self.base_url}{path}", headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as resp:
                status, body = resp.status, await resp.read()
        except FAILURES as exc:
            log.warning("executor unreachable for %s: %s", path, type(exc).__name__)
            raise ExecutorUnavailable(type(exc).__name__) from None
        if status >= 500:
            raise ExecutorUnavailable(f"HTTP {status}")
        if status != 200:
            return None
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            log.warning("executor answered %s with an unreadable body (%s errors)", path, exc.error_count())
            raise ExecutorUnavailable("unreadable answer") from None

    async def lookup(self, run_id: uuid.UUID, user: CurrentUser) -> RunOut | None:
        """The run as the executor sees it, or None when it is not this user's (or does not exist)."""
        run = await self._get(f"/executions/{run_id}", user, RunOut)
        if run is not None:
            self.remember(run_id, user.user_id)
        return run

    async def steps(self, run_id: uuid.UUID, user: CurrentUser) -> RunStepsOut | None:
        """The executor's record of the run's steps; None when it has none for this user (not theirs, or an
        executor without the route)."""
        steps = await self._get(f"/executions/{run_id}/steps", user, RunStepsOut)
        if steps is not None:
            self.remember(run_id, user.user_id)
        return steps


class ServiceProbe:
    """`GET /health` of a service behind the gateway, timed; never raises."""

    def __init__(self, http: aiohttp.ClientSession, settings: Settings, *, timeout: float = 2.0):
        self.http = http
        self.settings = settings
        self.timeout = timeout

    async def probe(self, name: Upstream) -> ServiceStateOut:
        url = self.settings.service_url(name)
        started = time.perf_counter()
        try:
            async with self.http.get(f"{url}/health", timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                status = resp.status
                await resp.read()  # the connection goes back to the pool only once its answer is read
        except FAILURES as exc:
            return ServiceStateOut(status="down", url=url, detail=f"unreachable ({self._why(exc)})")
        latency = round((time.perf_counter() - started) * 1000, 1)
        return ServiceStateOut(status="ok" if status == 200 else "down", url=url, latency_ms=latency)

    def _why(self, exc: BaseException) -> str:
        if isinstance(exc, aiohttp.ClientConnectorError):
            return "cannot connect"
        if isinstance(exc, TimeoutError):
            return f"no answer in {self.timeout:g} s"
        return type(exc).__name__
