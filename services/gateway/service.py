"""The gateway's service objects: identity (registration, login and its limits), the late joiner's steps, and
the health of the services behind the gateway.

Password hashing is CPU-bound, so it runs off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import uuid
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.clients import ExecutorRuns, ExecutorUnavailable, ServiceProbe
from services.gateway.fanout.schemas import RunStepsOut, StepOut
from services.gateway.fanout.state import RunRegistry, iso
from services.gateway.models import User
from services.gateway.proxy import Proxy, Upstream
from services.gateway.repository import AttemptCount, LoginAttemptRepository, UserRepository
from services.gateway.schemas import RegisterIn, ServicesHealthOut, ServiceStateOut, UserOut
from shared.auth import CurrentUser, bearer_token, decode_token, issue_token
from shared.db import transaction
from shared.errors import BadGateway, Conflict, EchoError, NotFound, Unauthorized
from shared.settings import Settings

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a login takes as long whether or not the account exists.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


class TooManyLogins(EchoError):
    status_code, error = 429, "too_many_login_attempts"


@dataclass(frozen=True, slots=True)
class Admitted:
    """A login attempt that may go ahead; it already counts as a failure until `succeeded` takes it back."""

    account: str
    address: str


class LoginLimiter:
    """Failed-login limits shared by every gateway replica (a counter row per account and per client address).

    An attempt is counted *before* the password is checked, in a transaction of its own that commits at once:
    a login answered 401 rolls the request's transaction back, and concurrent guesses on several replicas must
    not all slip under the limit. A right password takes its attempt back (the account's count is cleared, the
    address's lowered by one). Past the limit the answer is 429 whether the password is right or not, and the
    window does not move, so `Retry-After` stays true.
    """

    ACCOUNT, ADDRESS = "account", "address"

    def __init__(self, maker: async_sessionmaker[AsyncSession], settings: Settings):
        self.maker = maker
        self.window = settings.login_window_seconds
        self.limits = {self.ACCOUNT: settings.login_max_failures, self.ADDRESS: 10 * settings.login_max_failures}

    async def admit(self, email: str, address: str) -> Admitted:
        attempt = Admitted(hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest(), address[:64])
        async with transaction(self.maker) as session:
            repo = LoginAttemptRepository(session)
            counts = await repo.count([(self.ACCOUNT, attempt.account), (self.ADDRESS, attempt.address)], self.window)
            await repo.sweep(self.window)
        over = [c for c in counts if c.failures > self.limits[c.scope]]
        if over:
            wait = max(self._retry_after(c) for c in over)
            what = "this account" if any(c.scope == self.ACCOUNT for c in over) else "this address"
            raise TooManyLogins(
                f"Too many failed logins for {what}; try again in {wait} seconds.", headers={"Retry-After": str(wait)}
            )
        return attempt

    async def succeeded(self, attempt: Admitted) -> None:
        async with transaction(self.maker) as session:
            repo = LoginAttemptRepository(session)
            await repo.forget(self.ACCOUNT, attempt.account)
            await repo.take_back(self.ADDRESS, attempt.address)

    def _retry_after(self, count: AttemptCount) -> int:
        elapsed = (count.now - count.window_started_at).total_seconds()
        return max(1, math.ceil(self.window - elapsed))


class IdentityService:
    """Accounts and tokens. Built per request by `api/deps.py`; never commits (the request does), except the
    login limiter's counts, which are their own unit of work."""

    def __init__(self, repo: UserRepository, settings: Settings, limiter: LoginLimiter):
        self.repo = repo
        self.settings = settings
        self.limiter = limiter

    async def register(self, body: RegisterIn) -> User:
        password_hash = await asyncio.to_thread(_hasher.hash, body.password)
        user = await self.repo.create(body.email.lower(), password_hash, body.display_name)
        if user is None:
            raise Conflict("An account with this email already exists; log in instead.", error="email_taken")
        return user

    async def login(self, email: str, password: str, address: str) -> tuple[str, int]:
        email = email.lower()
        attempt = await self.limiter.admit(email, address)
        user = await self.repo.by_email(email)
        ok = await asyncio.to_thread(
            _verify, user.password_hash if user and user.password_hash else _DUMMY_HASH, password
        )
        if user is None or user.password_hash is None or not ok:
            raise Unauthorized("Wrong email or password.", error="invalid_credentials")
        await self.limiter.succeeded(attempt)
        return issue_token(user.user_id, self.settings)

    async def me(self, current: CurrentUser) -> UserOut:
        if current.anonymous:
            # Only with ECHO_AUTH_ENFORCEMENT=optional: the anonymous user has no row.
            return UserOut(user_id=current.user_id, email="anonymous", display_name="Anonymous")
        user = await self.repo.by_id(current.user_id)
        if user is None:
            raise NotFound("The account behind this token no longer exists.", error="user_not_found")
        return UserOut.model_validate(user)


RUN_NOT_FOUND = "No such run for this user; check the run_id returned by POST /workflows/chat/send."


class RunStepsService:
    """The late joiner's view of a run: this replica's memory while it holds the run's events, else the
    executor's record (its steps, or at least the run's status when it has none)."""

    def __init__(self, registry: RunRegistry, executor: ExecutorRuns):
        self.registry = registry
        self.executor = executor

    async def steps(self, run_id: uuid.UUID, user: CurrentUser) -> RunStepsOut:
        state = self.registry.get(run_id)
        if state is not None:
            if state.user_id != user.user_id:
                raise NotFound(RUN_NOT_FOUND)
            return RunStepsOut.model_validate(state.snapshot())
        try:
            recorded = await self.executor.steps(run_id, user)
            # A 404 there is "no such route" or "not yours": the run itself decides.
            run = await self.executor.lookup(run_id, user) if recorded is None else None
        except ExecutorUnavailable:
            raise BadGateway(
                "The executor service is unreachable, so this run's steps cannot be read now; try again shortly.",
                error="upstream_unavailable",
            ) from None
        if recorded is not None:
            return RunStepsOut(
                run_id=str(run_id),
                status=recorded.status,
                last_seq=recorded.last_seq,
                steps=[
                    StepOut(
                        step_id=s.step_id,
                        agent_id=s.agent_id,
                        agent_name=s.agent_name,
                        status=s.status,
                        output=s.output,
                        error=s.error,
                        started_at=iso(s.started_at),
                        completed_at=iso(s.completed_at),
                    )
                    for s in recorded.steps
                ],
            )
        if run is None:
            raise NotFound(RUN_NOT_FOUND)
        return RunStepsOut(run_id=str(run_id), status=run.status, last_seq=0, steps=[])


class RunSends:
    """`POST /workflows/chat/send` goes to the executor unchanged; its 202 says whose the new run is. Remembering
    that lets the WebSocket a client opens right after be authorised at once: otherwise, until the run's first
    event reaches this replica, the gateway would ask the executor, which is busy starting that very run."""

    def __init__(self, proxy: Proxy, executor: ExecutorRuns, settings: Settings):
        self.proxy = proxy
        self.executor = executor
        self.settings = settings

    async def send(self, request: Request) -> Response:
        response = await self.proxy.forward(request)
        if response.status_code == 202:
            self._remember(request, bytes(response.body))
        return response

    def _remember(self, request: Request, body: bytes) -> None:
        # The executor accepted this token to create the run, so it names the run's owner; anything unexpected
        # only means the socket is checked with the executor as before.
        with contextlib.suppress(EchoError, ValueError, KeyError, TypeError):
            token = bearer_token(request)
            if token is None:
                return
            user = decode_token(token, self.settings)
            self.executor.remember(uuid.UUID(str(json.loads(body)["run_id"])), user.user_id)


BEHIND_THE_GATEWAY: tuple[Upstream, ...] = ("workflow", "session", "executor")


class ServicesHealth:
    """Every service behind the gateway asked at once, so one call tells an operator what is down."""

    def __init__(self, probe: ServiceProbe):
        self.probe = probe

    async def report(self) -> ServicesHealthOut:
        results = await asyncio.gather(*(self.probe.probe(name) for name in BEHIND_THE_GATEWAY))
        services: dict[str, ServiceStateOut] = {"gateway": ServiceStateOut(status="ok")}
        services.update(zip(BEHIND_THE_GATEWAY, results, strict=True))
        overall = "ok" if all(r.status == "ok" for r in results) else "degraded"
        return ServicesHealthOut(status=overall, services=services)
