"""One WebSocket client following one run (docs/api.md#live-events).

Order of business: accept, authenticate (`?token=` or a first `{"type": "auth"}` message), authorise (the
events' `user_id`, else the executor), subscribe, replay the buffer after `after_seq`, then live. Subscribing
comes before taking the replay snapshot, both without an await in between, and the sender skips every seq it
has already sent: no gap and no duplicate between replay and live.

A browser's handshake from an origin that is neither the gateway's own nor listed in ECHO_CORS_ORIGINS is
refused before it is accepted (HTTP 403).

Close codes: 1000 after the terminal event (or at once for a run that finished before this gateway saw any of
its events: nothing is synthesised, the steps endpoint answers from the executor), 1008 bad token or someone
else's run, 1013 a client too slow for its queue or the executor unreachable for the ownership check,
1001 gateway shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from services.gateway.clients import ExecutorUnavailable
from services.gateway.cors import websocket_origin_allowed
from services.gateway.fanout.hub import CLOSE_POLICY, CLOSE_TOO_SLOW, Hub, Subscriber
from services.gateway.fanout.params import AFTER_SEQ_RULE, parse_after_seq
from services.gateway.fanout.state import BufferedEvent
from services.gateway.metrics import WS_CONNECTIONS, WS_EVENTS_DELIVERED
from shared.auth import CurrentUser, decode_token
from shared.contracts import RunOut
from shared.errors import Unauthorized
from shared.settings import Settings

log = logging.getLogger("echoai.gateway.fanout")

CLOSE_NORMAL = 1000
CLOSE_INTERNAL = 1011
NOT_YOURS = "no such run for this user"


async def close(ws: WebSocket, hub: Hub, code: int, reason: str) -> None:
    # A slow client's socket may never drain; the close frame waits a bounded time, then the socket goes.
    with contextlib.suppress(Exception):
        short = reason.encode()[:123].decode(errors="ignore")  # a close reason is at most 123 bytes
        await asyncio.wait_for(ws.close(code, short), hub.close_timeout)


async def authenticate(ws: WebSocket, hub: Hub, settings: Settings) -> CurrentUser | None:
    """The caller, or None once the socket is closed (1008) or gone."""
    token = ws.query_params.get("token")
    if token is None:
        try:
            message = await asyncio.wait_for(ws.receive(), hub.auth_timeout)
        except TimeoutError:
            if settings.auth_enforcement == "optional":
                return CurrentUser(user_id=settings.anonymous_user_id, anonymous=True)
            await close(ws, hub, CLOSE_POLICY, f"authentication required within {hub.auth_timeout:g} s")
            return None
        if message["type"] == "websocket.disconnect":
            return None
        token = _auth_message_token(message.get("text"))
        if token is None:
            await close(ws, hub, CLOSE_POLICY, 'the first message must be {"type": "auth", "token": "<jwt>"}')
            return None
    try:
        return decode_token(token, settings)
    except Unauthorized as exc:
        await close(ws, hub, CLOSE_POLICY, exc.detail)
        return None


def _auth_message_token(text: str | None) -> str | None:
    try:
        body = json.loads(text or "")
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("type") == "auth" and isinstance(body.get("token"), str):
        return str(body["token"])
    return None


async def serve(ws: WebSocket, hub: Hub, settings: Settings, raw_run_id: str) -> None:
    if not websocket_origin_allowed(ws, settings):
        # Before accepting: the browser gets HTTP 403 and the page cannot read a foreign user's events.
        await ws.close(CLOSE_POLICY, "this origin may not open WebSockets here; see ECHO_CORS_ORIGINS")
        return
    WS_CONNECTIONS.inc()
    try:
        await _serve(ws, hub, settings, raw_run_id)
    finally:
        WS_CONNECTIONS.dec()


async def _serve(ws: WebSocket, hub: Hub, settings: Settings, raw_run_id: str) -> None:
    await ws.accept()
    user = await authenticate(ws, hub, settings)
    if user is None:
        return
    try:
        run_id = uuid.UUID(raw_run_id)
    except ValueError:
        await close(ws, hub, CLOSE_POLICY, NOT_YOURS)
        return
    after_seq = parse_after_seq(ws.query_params.get("after_seq"))
    if after_seq is None:
        await close(ws, hub, CLOSE_POLICY, AFTER_SEQ_RULE)
        return

    info: RunOut | None = None
    state = hub.registry.get(run_id)
    if state is None and not hub.executor.allowed(run_id, user.user_id):
        # Normal for a client that connects right after chat/send: no event has arrived yet.
        try:
            info = await hub.executor.lookup(run_id, user)
        except ExecutorUnavailable:
            await close(ws, hub, CLOSE_TOO_SLOW, "cannot check the run with the executor now; retry shortly")
            return
        if info is None:
            await close(ws, hub, CLOSE_POLICY, NOT_YOURS)
            return

    sub = hub.subscribe(run_id, user.user_id)
    tasks: list[asyncio.Task[Any]] = []
    try:
        state = hub.registry.get(run_id)  # events may have come in while the executor was asked
        if state is not None and state.user_id != user.user_id:
            await close(ws, hub, CLOSE_POLICY, NOT_YOURS)
            return
        if state is None and info is not None and info.terminal:
            await close(ws, hub, CLOSE_NORMAL, "run already finished; its steps are at /workflows/execution/…/steps")
            return
        replay = state.events_after(after_seq) if state is not None else []
        if state is not None and state.terminal and not replay:
            await close(ws, hub, CLOSE_NORMAL, "run finished")  # the client has seen it all already
            return
        sender = asyncio.create_task(pump(ws, hub, sub, user, replay, after_seq))
        sub.sender = sender
        receiver = asyncio.create_task(_until_disconnect(ws))
        tasks = [sender, receiver]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if not sender.done():
            return  # the client went away
        if sender.cancelled():
            code, reason = sub.close_code or CLOSE_INTERNAL, sub.close_reason
        elif isinstance(sender.exception(), WebSocketDisconnect):
            return
        elif (exc := sender.exception()) is not None:
            log.error("event stream for run %s failed: %r", run_id, exc)
            code, reason = CLOSE_INTERNAL, "internal error; reconnect with after_seq"
        else:
            code, reason = sender.result()
        if code == CLOSE_TOO_SLOW:
            log.info("dropped a slow client of run %s", run_id)
        await close(ws, hub, code, reason)
    finally:
        hub.unsubscribe(sub)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


async def pump(
    ws: WebSocket, hub: Hub, sub: Subscriber, user: CurrentUser, replay: list[BufferedEvent], after_seq: int
) -> tuple[int, str]:
    """Send the replay, then live events; returns the close code once the run ends or the client is dropped."""
    last = after_seq
    for event in replay:
        if event.seq <= last:
            continue
        await ws.send_text(event.text)
        WS_EVENTS_DELIVERED.inc()
        last = event.seq
        if event.terminal:
            return CLOSE_NORMAL, "run finished"
    while True:
        live = await sub.next_event(hub.idle_check_seconds)
        if sub.close_code is not None:
            return sub.close_code, sub.close_reason
        if live is None:
            if await _ended_unseen(hub, sub, user, last):
                return CLOSE_NORMAL, "run finished"
            continue
        if live.seq <= last:
            continue
        await ws.send_text(live.text)
        WS_EVENTS_DELIVERED.inc()
        last = live.seq
        if live.terminal:
            return CLOSE_NORMAL, "run finished"


async def _ended_unseen(hub: Hub, sub: Subscriber, user: CurrentUser, last: int) -> bool:
    """A quiet run may have ended without this gateway seeing the terminal event (events are not persistent)."""
    try:
        info = await hub.executor.lookup(sub.run_id, user)
    except ExecutorUnavailable:
        return False
    if info is None or not info.terminal:
        return False
    state = hub.registry.get(sub.run_id)
    return state is None or state.last_seq <= last


async def _until_disconnect(ws: WebSocket) -> None:
    # Clients have nothing more to say after auth; reading is how a disconnect is noticed.
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
