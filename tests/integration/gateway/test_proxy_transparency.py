"""The proxy passes a request on as the client sent it, and the answer back as the service gave it: no headers of
its own (a body without Content-Type stays without one), repeated answer headers stay repeated, and no cookie one
answer set rides on a later request (one session serves every user)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.auth import headers_for
from tests.support.upstreams import RecordingUpstream, gateway_before

pytestmark = pytest.mark.integration

USER = headers_for(uuid.uuid4())


@pytest.fixture
async def recorded(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, RecordingUpstream]]:
    upstream = RecordingUpstream()
    async with gateway_before(upstream) as client:
        yield client, upstream


async def test_the_request_goes_on_as_sent_with_no_header_of_the_proxy_s_own(
    recorded: tuple[httpx.AsyncClient, RecordingUpstream],
) -> None:
    client, upstream = recorded
    body = b'{"definition": {"name": "n"}, "save_as": "draft"}'
    request = client.build_request("POST", "/workflows", content=body, headers={**USER, "x-trace": "t1"})
    for name in ("user-agent", "accept", "accept-encoding"):
        del request.headers[name]
    r = await client.send(request)
    assert r.status_code == 200, r.text
    line, headers, received = upstream.requests[-1]
    assert line == "POST /workflows HTTP/1.1" and received == body
    sent = dict(headers)
    assert not {"content-type", "user-agent", "accept", "accept-encoding", "cookie"} & sent.keys(), sent
    assert sent["x-trace"] == "t1" and sent["authorization"] == USER["Authorization"]
    assert sent["content-length"] == str(len(body)) and sent["x-request-id"]


async def test_the_query_and_the_client_s_headers_go_on_as_sent(
    recorded: tuple[httpx.AsyncClient, RecordingUpstream],
) -> None:
    client, upstream = recorded
    r = await client.get("/workflows?status=final&q=a%20b&name=%C3%A9", headers={**USER, "user-agent": "mine/1"})
    assert r.status_code == 200, r.text
    line, headers, _ = upstream.requests[-1]
    assert line == "GET /workflows?status=final&q=a%20b&name=%C3%A9 HTTP/1.1"
    assert dict(headers)["user-agent"] == "mine/1"


async def test_answer_headers_stay_repeated_and_no_cookie_is_kept(
    recorded: tuple[httpx.AsyncClient, RecordingUpstream],
) -> None:
    client, upstream = recorded
    first = await client.get("/workflows", headers=USER)
    assert first.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert first.headers["content-length"] == str(len(first.content))
    client.cookies.clear()  # the test's own client must not send them either
    await client.get("/workflows", headers=headers_for(uuid.uuid4()))
    _, headers, _ = upstream.requests[-1]
    assert "cookie" not in dict(headers)


async def test_a_204_goes_back_without_a_length(recorded: tuple[httpx.AsyncClient, RecordingUpstream]) -> None:
    client, _ = recorded
    r = await client.delete(f"/workflows/{uuid.uuid4()}", headers=USER)
    assert r.status_code == 204 and r.content == b""
    assert "content-length" not in r.headers
