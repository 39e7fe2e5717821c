from __future__ import annotations

import pytest

from services.gateway.proxy import upstream_for
from shared.cache import CircuitBreaker
from shared.errors import BadRequest, describe_validation_errors
from shared.pagination import decode_cursor, encode_cursor
from shared.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_and_probes_after_cooldown() -> None:
    clock = Clock()
    b = CircuitBreaker(threshold=3, cooldown=5, clock=clock)
    for _ in range(2):
        assert b.allow()
        b.failure()
    assert not b.is_open
    b.failure()
    assert b.is_open and not b.allow()
    clock.now = 4.9
    assert not b.allow()
    clock.now = 5.0
    assert b.allow()  # one probe
    assert not b.allow()  # and only one
    b.failure()  # probe failed: open again, cooldown restarts
    clock.now = 9.0
    assert not b.allow()
    clock.now = 10.0
    assert b.allow()
    b.success()
    assert not b.is_open and b.allow()


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor({"t": "2026-01-01", "id": "x"})) == {"t": "2026-01-01", "id": "x"}
    assert decode_cursor(None) is None
    for bad in ("%%%", "bm90IGpzb24", encode_cursor([1, 2])):  # type: ignore[arg-type]
        with pytest.raises(BadRequest):
            decode_cursor(bad)


def test_validation_errors_name_the_field_path() -> None:
    text = describe_validation_errors(
        [{"loc": ("body", "definition", "agents", 0, "name"), "msg": "Field required", "type": "missing"}]
    )
    assert text == "definition.agents.0.name: Field required."


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/workflows", "workflow"),
        ("/workflows/abc/versions", "workflow"),
        ("/workflows/chat/send", "executor"),
        ("/workflowsx", None),
        ("/agents/1", "workflow"),
        ("/tools", "workflow"),
        ("/sessions/1/messages", "session"),
        ("/executions", "executor"),
        ("/auth/me", None),
    ],
)
def test_proxy_routes_by_prefix(path: str, upstream: str | None) -> None:
    assert upstream_for(path) == upstream


def test_memcached_server_list_and_service_urls() -> None:
    s = Settings(memcached_servers="10.0.0.1:1, cache:11212 ,", workflow_url="http://wf:9/")
    assert s.memcached_server_list == [("10.0.0.1", 1), ("cache", 11212)]
    assert s.service_url("workflow") == "http://wf:9"
    assert s.service_url("session") == f"http://127.0.0.1:{s.session_port}"
