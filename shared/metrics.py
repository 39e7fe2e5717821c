"""Prometheus metrics: `/metrics` on every service, HTTP latency by route template, and the counters that more
than one service shares.

One process per container (the services run one uvicorn worker each; scale with replicas), so the default
registry is exact and no multiprocess directory is needed. Each service declares its own domain metrics in its
own module; this one holds only what every service has.
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import Counter
from prometheus_fastapi_instrumentator import Instrumentator

BROKER_PUBLISH_FAILURES = Counter(
    "echoai_broker_publish_failures",
    "Publishes RabbitMQ did not confirm (unreachable, refused or timed out), by exchange.",
    ["exchange"],
)


def install_metrics(app: FastAPI) -> None:
    """`http_requests_total` and `http_request_duration_seconds` labelled by method, route template (never the raw
    path, so ids do not explode the series) and status code; served at `/metrics`."""
    Instrumentator(
        should_group_status_codes=False,
        should_ignore_untemplated=False,
        should_group_untemplated=True,
        excluded_handlers=["/metrics"],
    ).instrument(app).expose(app, include_in_schema=False, should_gzip=False)
