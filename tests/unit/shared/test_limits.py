"""The body cap in front of every service, with a stand-in app that records what reached it."""

from __future__ import annotations

import json
from typing import Any

from shared.limits import MAX_BODY_BYTES, BodySizeLimit


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(message.get("body", b""))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _call(app: Any, method: str, chunks: list[bytes], content_length: int | None = None) -> tuple[int, bytes]:
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    scope = {"type": "http", "method": method, "headers": headers, "path": "/"}
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def test_small_bodies_pass_whole_even_in_chunks() -> None:
    inner = Recorder()
    status, _ = await _call(BodySizeLimit(inner, max_bytes=10), "POST", [b"abc", b"def"])
    assert status == 200 and inner.bodies == [b"abcdef"]


async def test_a_large_content_length_is_refused_unread() -> None:
    inner = Recorder()
    status, body = await _call(BodySizeLimit(inner, max_bytes=10), "PUT", [b"x"], content_length=11)
    assert status == 413 and inner.bodies == []
    assert json.loads(body)["error"] == "payload_too_large"


async def test_a_large_chunked_body_is_refused_once_over_the_cap() -> None:
    inner = Recorder()
    status, _ = await _call(BodySizeLimit(inner, max_bytes=10), "POST", [b"123456", b"789012"])
    assert status == 413 and inner.bodies == []


async def test_every_method_is_limited() -> None:
    for method in ("GET", "DELETE", "PATCH"):
        inner = Recorder()
        status, _ = await _call(BodySizeLimit(inner, max_bytes=1), method, [b"whatever"], content_length=8)
        assert status == 413 and inner.bodies == [], method


async def test_the_cap_is_two_mib_inclusive() -> None:
    assert MAX_BODY_BYTES == 2 * 1024 * 1024
    inner = Recorder()
    status, _ = await _call(BodySizeLimit(inner), "POST", [b"x" * (1024 * 1024)] * 2)
    assert status == 200 and len(inner.bodies[0]) == MAX_BODY_BYTES
    status, _ = await _call(BodySizeLimit(inner), "POST", [b"x" * (1024 * 1024)] * 2 + [b"y"])
    assert status == 413


async def test_websockets_pass_untouched() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await BodySizeLimit(app, max_bytes=1)({"type": "websocket", "path": "/"}, None, None)  # type: ignore[arg-type]
    assert seen == ["websocket"]
