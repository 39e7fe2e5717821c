"""The gateway's live-event metrics (prometheus_client, default registry: one process per container)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

WS_CONNECTIONS = Gauge("echoai_ws_connections", "WebSocket connections open on this gateway right now.")
WS_EVENTS_DELIVERED = Counter(
    "echoai_ws_events_delivered", "Step events written to a WebSocket client (replayed and live)."
)
WS_EVENTS_DROPPED = Counter(
    "echoai_ws_events_dropped",
    "Step events queued for a WebSocket client and never written to it, by why the client was closed: "
    "too_slow (its queue overflowed), shutdown (the gateway is stopping), refused (not the client's run).",
    ["reason"],
)
DROP_REASONS = ("too_slow", "shutdown", "refused")
for _reason in DROP_REASONS:
    WS_EVENTS_DROPPED.labels(_reason)  # every series exists from the start, at 0
