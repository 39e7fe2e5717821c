"""`Upstream.run_setup` against a small aiohttp server answering as the session service would (or as an older one,
without the route, would)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from services.executor.clients import Upstream
from shared.auth import CurrentUser
from shared.errors import EchoError, NotFound, ServiceUnavailable
from shared.settings import Settings
from tests.support.stand_in import serving_app

KNOWN = uuid.uuid4()
SETUP = {"session_id": str(KNOWN), "variables": {"v": 1}, "selected_tool_ids": ["t"], "tool_configs": {"t": {"k": 2}}}


async def _run_setup(request: web.Request) -> web.Response:
    if request.match_info["sid"] == str(KNOWN):
        return web.json_response(SETUP)
    return web.json_response({"error": "session_not_found", "detail": "No session with this id."}, status=404)


async def _refuse_message(request: web.Request) -> web.Response:
    if request.match_info["sid"] == str(KNOWN):
        detail = "content: longer than this session takes; shorten the message."
        return web.json_response({"error": "message_too_long", "detail": detail}, status=422)
    return web.Response(status=409, text="conflict, somehow")  # an answer without the usual error body


async def _no_such_route(_: web.Request) -> web.Response:
    return web.json_response({"error": "not_found", "detail": "Not Found"}, status=404)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    app = web.Application()
    app.router.add_get("/sessions/{sid}/run-setup", _run_setup)
    app.router.add_get("/old/sessions/{sid}/run-setup", _no_such_route)
    app.router.add_post("/sessions/{sid}/messages", _refuse_message)
    async with serving_app(app) as (http, url):
        yield Upstream(http, Settings(session_url=url), CurrentUser(uuid.uuid4(), token="t"))


async def test_run_setup_is_read_in_one_call(upstream: Upstream) -> None:
    setup = await upstream.run_setup(KNOWN)
    assert (setup.variables, setup.selected_tool_ids, setup.tool_configs) == ({"v": 1}, ["t"], {"t": {"k": 2}})


async def test_a_missing_session_is_a_404_for_the_caller(upstream: Upstream) -> None:
    with pytest.raises(NotFound) as caught:
        await upstream.run_setup(uuid.uuid4())
    assert caught.value.error == "session_not_found"


async def test_a_session_service_without_the_route_is_not_taken_for_a_missing_session(upstream: Upstream) -> None:
    upstream.settings = Settings(session_url=upstream.settings.service_url("session") + "/old")
    with pytest.raises(ServiceUnavailable) as caught:
        await upstream.run_setup(KNOWN)
    assert caught.value.error == "upstream_error"


async def test_a_refused_message_is_passed_on_with_the_session_services_words(upstream: Upstream) -> None:
    with pytest.raises(EchoError) as caught:
        await upstream.add_message(KNOWN, content="x", run_id=uuid.uuid4(), metadata={})
    assert (caught.value.status_code, caught.value.error) == (422, "message_too_long")
    assert str(caught.value) == "content: longer than this session takes; shorten the message."
    with pytest.raises(EchoError) as caught:
        await upstream.add_message(uuid.uuid4(), content="x", run_id=uuid.uuid4(), metadata={})
    assert (caught.value.status_code, caught.value.error) == (409, "invalid_message")
