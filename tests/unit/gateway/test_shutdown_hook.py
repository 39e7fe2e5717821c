"""The signal hook: the first SIGTERM closes the WebSockets, then reaches the server's own handler; a second one
goes straight there."""

from __future__ import annotations

import asyncio
import signal
import uuid
from types import FrameType
from typing import Any

from services.gateway.fanout.hub import Hub
from services.gateway.shutdown import websockets_close_first
from shared.settings import Settings


async def test_sigterm_closes_websockets_before_the_server_hears_of_it() -> None:
    hub = Hub(Settings(), broker=None, http=None)  # type: ignore[arg-type]
    heard: list[tuple[int, list[int | None]]] = []
    subs = [hub.subscribe(uuid.uuid4(), uuid.uuid4()) for _ in range(2)]

    def server_handler(sig: int, frame: FrameType | None) -> None:  # what uvicorn installs
        heard.append((sig, [s.close_code for s in subs]))

    original: Any = signal.signal(signal.SIGTERM, server_handler)
    try:
        with websockets_close_first(hub, timeout=0.5):
            signal.raise_signal(signal.SIGTERM)
            assert heard == []  # not yet: the sockets are closed first
            async with asyncio.timeout(5):
                while not heard:
                    await asyncio.sleep(0.01)
            assert heard == [(signal.SIGTERM, [1001, 1001])]
            signal.raise_signal(signal.SIGTERM)  # a second signal is the server's at once
            assert len(heard) == 2
        assert signal.getsignal(signal.SIGTERM) is server_handler  # restored when the app stops
    finally:
        signal.signal(signal.SIGTERM, original)
