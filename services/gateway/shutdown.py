"""SIGTERM (or Ctrl+C) at the gateway: close every WebSocket with 1001 first, then let uvicorn stop.

On a signal uvicorn stops listening and closes every open WebSocket itself, with 1012, before the application's
lifespan shutdown runs; closing them from the lifespan would come too late. So the lifespan wraps uvicorn's
signal handler: the first signal has the hub close each socket with 1001 ("going away": the client reconnects with
`after_seq`, to another replica) and wait a bounded time for them, and only then hands the signal to uvicorn,
which drains the HTTP requests in flight (`timeout_graceful_shutdown`) and runs the lifespan shutdown. A second
signal goes straight to uvicorn (a second Ctrl+C still forces the exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from services.gateway.fanout.hub import Hub

log = logging.getLogger("echoai.gateway.shutdown")

SIGNALS = (signal.SIGTERM, signal.SIGINT)
WEBSOCKETS_CLOSE_SECONDS = 5.0


@contextlib.contextmanager
def websockets_close_first(hub: Hub, timeout: float = WEBSOCKETS_CLOSE_SECONDS) -> Iterator[None]:
    """Install the wrapping handler for the app's life; only the main thread can (elsewhere: nothing to wrap)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    tasks: set[asyncio.Task[None]] = set()

    def pass_on(sig: int, frame: FrameType | None) -> None:
        handler: Any = previous[signal.Signals(sig)]
        if callable(handler):
            handler(sig, frame)
        else:  # no Python handler before ours: the default action
            signal.signal(sig, handler)
            signal.raise_signal(sig)

    async def close_then_pass_on(sig: int, frame: FrameType | None) -> None:
        count = sum(1 for _ in hub.subscribers())
        log.info("%s: closing %d WebSocket(s) with 1001 before stopping", signal.Signals(sig).name, count)
        try:
            await hub.going_away(timeout)
        finally:
            pass_on(sig, frame)

    def on_signal(sig: int, frame: FrameType | None) -> None:
        if hub.closing:
            pass_on(sig, frame)
            return

        def start() -> None:
            task = loop.create_task(close_then_pass_on(sig, frame))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        hub.closing = True  # a second signal before the task starts goes straight on
        loop.call_soon_threadsafe(start)

    for sig in SIGNALS:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
