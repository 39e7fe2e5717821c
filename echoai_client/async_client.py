"""The asynchronous client: `Client`'s methods, awaited (`async with AsyncClient() as echo: await echo.me()`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from echoai_client import calls
from echoai_client._base import USER_AGENT, BaseClient, is_uuid, read_answer, unreachable
from echoai_client.calls import Call, Decision, SaveAs
from echoai_client.errors import Conflict, NotFound, StreamError
from echoai_client.models import (
    Agent,
    Checkpoint,
    Event,
    Message,
    Page,
    Run,
    RunSteps,
    SendResult,
    Session,
    SessionSummary,
    Token,
    Tool,
    User,
    Version,
    VersionSummary,
    Workflow,
    WorkflowSummary,
)
from echoai_client.stream import Closed, Next, StreamState, auth_message, ws_url

T = TypeVar("T")


class AsyncClient(BaseClient):
    """`AsyncClient()` reads `ECHOAI_URL` and `ECHOAI_TOKEN` (or the credentials file); use it with `async with`."""

    def __init__(self, base_url: str | None = None, token: str | None = None, *, timeout: float = 30.0):
        super().__init__(base_url, token)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, headers={"User-Agent": USER_AGENT})

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, call: Call[T]) -> T:
        try:
            resp = await self._http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.body,
                headers=self._headers(call),
            )
        except httpx.TransportError as exc:
            raise unreachable(self.base_url, exc) from None
        return read_answer(call, resp)

    async def paginate(
        self, fetch: Callable[..., Awaitable[Page[T]]], /, *args: Any, **params: Any
    ) -> AsyncIterator[T]:
        """Every item of a list, page after page: `async for w in client.paginate(client.list_workflows)`."""
        cursor: str | None = None
        while True:
            page = await fetch(*args, **params, cursor=cursor)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    # -- identity -----------------------------------------------------------------------------------------------

    async def register(self, email: str, password: str, display_name: str | None = None) -> User:
        return await self.call(calls.register(email, password, display_name))

    async def login(self, email: str, password: str, *, save: bool = False) -> Token:
        """Log in; the token is used by this client from now on (and kept in the credentials file if `save`)."""
        token = await self.call(calls.login(email, password))
        self.token = token.access_token
        if save:
            self.save_credentials(email)
        return token

    async def me(self) -> User:
        return await self.call(calls.me())

    async def health(self) -> dict[str, Any]:
        return await self.call(calls.health())

    # -- workflows ----------------------------------------------------------------------------------------------

    async def save_workflow(
        self,
        definition: Mapping[str, Any] | str | Path,
        *,
        save_as: SaveAs = "draft",
        workflow_id: str | None = None,
    ) -> Workflow:
        """Create (POST) or, with `workflow_id`, update (PUT) a workflow from a dict or a JSON file."""
        return await self.call(calls.save_workflow(calls.load_definition(definition), save_as, workflow_id))

    async def list_workflows(
        self, status: str | None = None, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[WorkflowSummary]:
        return await self.call(calls.list_workflows(status, limit, cursor))

    async def get_workflow(self, workflow_id: str) -> Workflow:
        return await self.call(calls.get_workflow(workflow_id))

    async def find_workflow(self, id_or_name: str) -> Workflow:
        """A workflow by its ID, or by its name when exactly one of yours has it."""
        if is_uuid(id_or_name):
            return await self.get_workflow(id_or_name)
        found = [w async for w in self.paginate(self.list_workflows, limit=200) if w.name == id_or_name]
        if not found:
            raise NotFound(404, "workflow_not_found", f"You have no workflow named {id_or_name!r}.")
        if len(found) > 1:
            ids = ", ".join(w.workflow_id for w in found)
            raise Conflict(409, "ambiguous_name", f"Several workflows are named {id_or_name!r} ({ids}); use an ID.")
        return await self.get_workflow(found[0].workflow_id)

    async def get_temp_workflow(self, workflow_id: str) -> Workflow:
        return await self.call(calls.get_temp_workflow(workflow_id))

    async def delete_workflow(self, workflow_id: str) -> None:
        await self.call(calls.delete_workflow(workflow_id))

    async def list_versions(
        self, workflow_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[VersionSummary]:
        return await self.call(calls.list_versions(workflow_id, limit, cursor))

    async def get_version(self, workflow_id: str, version: int) -> Version:
        return await self.call(calls.get_version(workflow_id, version))

    async def restore_version(self, workflow_id: str, version: int) -> Workflow:
        return await self.call(calls.restore_version(workflow_id, version))

    # -- agents and tools ---------------------------------------------------------------------------------------

    async def list_agents(
        self, source_workflow_id: str | None = None, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Agent]:
        return await self.call(calls.list_agents(source_workflow_id, limit, cursor))

    async def create_agent(self, agent: Mapping[str, Any]) -> Agent:
        return await self.call(calls.create_agent(dict(agent)))

    async def get_agent(self, agent_id: str) -> Agent:
        return await self.call(calls.get_agent(agent_id))

    async def update_agent(self, agent_id: str, agent: Mapping[str, Any]) -> Agent:
        return await self.call(calls.update_agent(agent_id, dict(agent)))

    async def delete_agent(self, agent_id: str) -> None:
        await self.call(calls.delete_agent(agent_id))

    async def list_tools(
        self,
        tags: Sequence[str] | None = None,
        tool_type: str | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Tool]:
        return await self.call(calls.list_tools(tags, tool_type, limit, cursor))

    async def create_tool(self, tool: Mapping[str, Any]) -> Tool:
        return await self.call(calls.create_tool(dict(tool)))

    async def get_tool(self, tool_id: str) -> Tool:
        return await self.call(calls.get_tool(tool_id))

    async def update_tool(self, tool_id: str, tool: Mapping[str, Any]) -> Tool:
        return await self.call(calls.update_tool(tool_id, dict(tool)))

    async def delete_tool(self, tool_id: str) -> None:
        await self.call(calls.delete_tool(tool_id))

    # -- sessions -----------------------------------------------------------------------------------------------

    async def list_sessions(self, *, limit: int | None = None, cursor: str | None = None) -> Page[SessionSummary]:
        return await self.call(calls.list_sessions(limit, cursor))

    async def create_session(
        self, title: str | None = None, *, context_type: str | None = None, context_id: str | None = None
    ) -> Session:
        return await self.call(calls.create_session(title, context_type, context_id))

    async def get_session(self, session_id: str) -> Session:
        return await self.call(calls.get_session(session_id))

    async def delete_session(self, session_id: str) -> None:
        await self.call(calls.delete_session(session_id))

    async def set_session_title(self, session_id: str, title: str) -> Session:
        return await self.call(calls.set_session_title(session_id, title))

    async def add_message(
        self, session_id: str, content: str, *, role: str = "user", metadata: dict[str, Any] | None = None
    ) -> Message:
        return await self.call(calls.add_message(session_id, role, content, metadata))

    async def list_messages(
        self, session_id: str, *, after_seq: int | None = None, limit: int | None = None
    ) -> Page[Message]:
        return await self.call(calls.list_messages(session_id, after_seq, limit))

    # -- runs ---------------------------------------------------------------------------------------------------

    async def send(
        self,
        workflow_id: str,
        message: str,
        *,
        session_id: str | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> SendResult:
        """Start a run (`POST /workflows/chat/send`); follow it with `stream(result.run_id)`."""
        return await self.call(calls.send(workflow_id, message, session_id, inputs))

    async def get_run(self, run_id: str) -> Run:
        return await self.call(calls.get_run(run_id))

    async def list_runs(
        self,
        workflow_id: str | None = None,
        status: str | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Run]:
        return await self.call(calls.list_runs(workflow_id, status, limit, cursor))

    async def cancel_run(self, run_id: str) -> Run:
        return await self.call(calls.cancel_run(run_id))

    async def run_steps(self, run_id: str) -> RunSteps:
        return await self.call(calls.run_steps(run_id))

    async def wait(self, run_id: str, *, timeout: float = 300.0, poll: float = 0.5) -> Run:
        """Poll until the run is completed, failed, cancelled or paused (or `timeout` passes: the last state)."""
        deadline = time.monotonic() + timeout
        while True:
            run = await self.get_run(run_id)
            if run.finished or run.status == "paused" or time.monotonic() > deadline:
                return run
            await asyncio.sleep(poll)

    def stream(self, run_id: str, after_seq: int = 0, *, reconnect_timeout: float = 60.0) -> AsyncEventStream:
        """The run's events from `after_seq` on, in seq order, each once, until its terminal event."""
        return AsyncEventStream(self, run_id, after_seq, reconnect_timeout)

    # -- checkpoints --------------------------------------------------------------------------------------------

    async def inbox(
        self,
        status: str | None = "pending",
        workflow_id: str | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Checkpoint]:
        return await self.call(calls.inbox(status, workflow_id, limit, cursor))

    async def list_checkpoints(self, run_id: str) -> list[Checkpoint]:
        return await self.call(calls.list_checkpoints(run_id))

    async def find_checkpoint(self, checkpoint_id: str) -> Checkpoint:
        """A checkpoint of yours by ID, from the inbox (pending ones first, then any status)."""
        for status in ("pending", None):
            async for item in self.paginate(self.inbox, status=status, limit=200):
                if item.checkpoint_id == checkpoint_id:
                    return item
        raise NotFound(404, "checkpoint_not_found", f"You have no checkpoint {checkpoint_id}.")

    async def decide(
        self,
        checkpoint_id: str,
        action: Decision,
        *,
        run_id: str | None = None,
        output: str | None = None,
        comment: str | None = None,
    ) -> dict[str, Any]:
        """Approve, edit (with `output`) or reject a checkpoint; without `run_id` it is looked up in the inbox."""
        run_id = run_id or (await self.find_checkpoint(checkpoint_id)).run_id
        if not run_id:
            raise NotFound(404, "checkpoint_not_found", f"Checkpoint {checkpoint_id} names no run.")
        return await self.call(calls.decide(run_id, checkpoint_id, action, output, comment))


class AsyncEventStream:
    """`async for event in stream`; `last_seq` and `reconnects` tell how far it got and how often it resumed."""

    def __init__(self, client: AsyncClient, run_id: str, after_seq: int, reconnect_timeout: float):
        self._client = client
        self.state = StreamState(run_id, after_seq, reconnect_timeout)

    @property
    def last_seq(self) -> int:
        return self.state.last_seq

    @property
    def reconnects(self) -> int:
        return self.state.reconnects

    async def __aiter__(self) -> AsyncIterator[Event]:
        state, client = self.state, self._client
        while True:
            # An async generator cannot return a value, so each connection fills a one-item list.
            outcome: list[Closed] = []
            async for event in self._one_connection(outcome):
                yield event
            if outcome[0] is Closed.DONE:
                return
            if outcome[0] is Closed.ASK_RUN:
                end = state.finish_from(await client.get_run(state.run_id))
                if end is not None:
                    yield end
                if state.finished:
                    return
            await asyncio.sleep(state.backoff())

    async def _one_connection(self, outcome: list[Closed]) -> AsyncIterator[Event]:
        state, client = self.state, self._client
        url = ws_url(client.base_url, state.run_id, state.last_seq)
        try:
            async with connect(url, open_timeout=10, close_timeout=2, max_size=None) as ws:
                if client.token:
                    await ws.send(auth_message(client.token))
                async for event in self._receive(ws, outcome):
                    yield event
        except InvalidStatus as exc:
            if 400 <= exc.response.status_code < 500:
                raise StreamError(f"the gateway refused the event stream: HTTP {exc.response.status_code}") from None
            outcome.append(Closed.RECONNECT)
        except (OSError, InvalidHandshake, TimeoutError):
            outcome.append(Closed.RECONNECT)  # the gateway is away (restarting, say): try again shortly

    async def _receive(self, ws: ClientConnection, outcome: list[Closed]) -> AsyncIterator[Event]:
        state = self.state
        while True:
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")
                outcome.append(state.on_closed(code, reason))
                return
            kind, event = state.parse(raw)
            if kind is Next.DELIVER and event is not None:
                yield event
                if state.finished:
                    outcome.append(Closed.DONE)
                    return
            elif kind is Next.GAP:
                if not state.after_gap():
                    raise state.gap_error()  # the replay after a reconnect started past it too: it is gone
                outcome.append(Closed.RECONNECT)
                return
