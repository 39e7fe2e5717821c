"""Every endpoint of docs/api.md#sessions against the in-process service with real PostgreSQL and Memcached."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import httpx
import pytest

from services.session.schemas import MessageOut, SessionOut, SessionPage
from tests.integration.session.conftest import new_session

pytestmark = pytest.mark.integration


async def test_create_and_get_have_the_documented_shape(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    created = await new_session(
        client,
        alice,
        title="Research",
        context_type="workflow",
        context_id="wf-1",
        variables={"tone": "plain"},
        selected_tool_ids=["t1", "t2", "t1"],
    )
    SessionOut.model_validate(created)  # refuses missing and undeclared keys alike
    assert created["title"] == "Research"
    assert (created["context_type"], created["context_id"]) == ("workflow", "wf-1")
    assert created["variables"] == {"tone": "plain"}
    assert created["selected_tool_ids"] == ["t1", "t2"]
    assert created["run_ids"] == [] and created["messages"] == [] and created["message_count"] == 0
    uuid.UUID(str(created["session_id"]))
    assert str(created["created_at"]).endswith("Z")
    datetime.fromisoformat(str(created["created_at"]))

    r = await client.get(f"/sessions/{created['session_id']}", headers=alice)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == created


async def test_defaults(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    s = await new_session(client, alice)
    assert s["title"] == "New chat"
    assert (s["context_type"], s["context_id"]) == ("general", None)
    assert s["variables"] == {} and s["selected_tool_ids"] == []


async def test_messages_append_get_and_page(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    sid = (await new_session(client, alice))["session_id"]
    run_id = str(uuid.uuid4())
    sent = []
    for i, role in enumerate(["user", "assistant", "system", "tool", "user"]):
        body: dict[str, object] = {"role": role, "content": f"m{i}", "metadata": {"i": i}}
        if i == 0:
            body["run_id"] = run_id
        r = await client.post(f"/sessions/{sid}/messages", json=body, headers=alice)
        assert r.status_code == 201, r.text
        msg = r.json()
        MessageOut.model_validate(msg)
        assert msg["seq"] == i + 1 and msg["role"] == role and msg["content"] == f"m{i}" and msg["metadata"] == {"i": i}
        sent.append(msg)
    assert sent[0]["run_id"] == run_id and sent[1]["run_id"] is None

    full = (await client.get(f"/sessions/{sid}", headers=alice)).json()
    assert full["messages"] == sent and full["message_count"] == 5
    assert full["updated_at"] >= full["created_at"]

    r = await client.get(f"/sessions/{sid}/messages", params={"after_seq": 1, "limit": 2}, headers=alice)
    page = r.json()
    assert [m["seq"] for m in page["items"]] == [2, 3]
    assert page["last_seq"] == 5 and page["next_cursor"]
    r = await client.get(f"/sessions/{sid}/messages", params={"cursor": page["next_cursor"], "limit": 2}, headers=alice)
    page = r.json()
    assert [m["seq"] for m in page["items"]] == [4, 5] and page["next_cursor"] is None
    page = (await client.get(f"/sessions/{sid}/messages", headers=alice)).json()
    assert page["items"] == sent and page["next_cursor"] is None
    page = (await client.get(f"/sessions/{sid}/messages", params={"after_seq": 5}, headers=alice)).json()
    assert page == {"items": [], "next_cursor": None, "last_seq": 5}
    page = (await client.get(f"/sessions/{sid}/messages", params={"after_seq": 99}, headers=alice)).json()
    assert page["items"] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"role": "robot", "content": "x"}, 422),
        ({"role": "user"}, 422),
        ({"role": "user", "content": "x", "metadata": []}, 422),
        ({"role": "user", "content": "x", "run_id": "not-a-uuid"}, 422),
        ({"role": "user", "content": "x", "extra": 1}, 422),
        ({"role": "user", "content": "bad\u0000byte"}, 422),
        ({"role": "user", "content": "x" * (64 * 1024 + 1)}, 413),
        ({"role": "user", "content": "é" * (32 * 1024 + 1)}, 413),
        ({"role": "user", "content": "x", "metadata": {"k": "v" * 20_000}}, 413),
    ],
)
async def test_bad_messages_are_4xx(
    client: httpx.AsyncClient, alice: dict[str, str], body: dict[str, object], status: int
) -> None:
    sid = (await new_session(client, alice))["session_id"]
    r = await client.post(f"/sessions/{sid}/messages", json=body, headers=alice)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error", "detail"}
    assert (await client.get(f"/sessions/{sid}", headers=alice)).json()["message_count"] == 0


async def test_largest_allowed_message(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    sid = (await new_session(client, alice))["session_id"]
    content = "x" * (64 * 1024)
    r = await client.post(f"/sessions/{sid}/messages", json={"role": "user", "content": content}, headers=alice)
    assert r.status_code == 201
    assert (await client.get(f"/sessions/{sid}", headers=alice)).json()["messages"][0]["content"] == content


async def test_delete_only_the_latest_message(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    sid = (await new_session(client, alice))["session_id"]
    ids = []
    for i in range(3):
        r = await client.post(f"/sessions/{sid}/messages", json={"role": "user", "content": f"m{i}"}, headers=alice)
        ids.append(r.json()["message_id"])
    r = await client.delete(f"/sessions/{sid}/messages/{ids[0]}", headers=alice)
    assert r.status_code == 409 and r.json()["error"] == "message_not_latest"
    r = await client.delete(f"/sessions/{sid}/messages/{uuid.uuid4()}", headers=alice)
    assert r.status_code == 404 and r.json()["error"] == "message_not_found"
    assert (await client.delete(f"/sessions/{sid}/messages/{ids[2]}", headers=alice)).status_code == 204
    assert (await client.delete(f"/sessions/{sid}/messages/{ids[2]}", headers=alice)).status_code == 404
    full = (await client.get(f"/sessions/{sid}", headers=alice)).json()
    assert [m["message_id"] for m in full["messages"]] == ids[:2] and full["message_count"] == 2
    # The next message takes the freed seq: still 1, 2, 3 without a gap.
    r = await client.post(f"/sessions/{sid}/messages", json={"role": "user", "content": "again"}, headers=alice)
    assert r.json()["seq"] == 3
    page = (await client.get(f"/sessions/{sid}/messages", params={"after_seq": 2}, headers=alice)).json()
    assert [m["content"] for m in page["items"]] == ["again"]


async def test_title_and_context(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    sid = (await new_session(client, alice))["session_id"]
    r = await client.patch(f"/sessions/{sid}/title", json={"title": "  Renamed  "}, headers=alice)
    assert r.status_code == 200 and r.json()["title"] == "Renamed"
    SessionOut.model_validate(r.json())
    for ctype, cid in [("workflow", "w1"), ("agent", "a1"), ("workflow_design", None), ("workflow_design", "w2")]:
        r = await client.patch(
            f"/sessions/{sid}/context", json={"context_type": ctype, "context_id": cid}, headers=alice
        )
        assert r.status_code == 200, r.text
        assert (r.json()["context_type"], r.json()["context_id"]) == (ctype, cid)
    r = await client.patch(f"/sessions/{sid}/context", json={"context_type": "general"}, headers=alice)
    assert (r.json()["context_type"], r.json()["context_id"]) == ("general", None)
    got = (await client.get(f"/sessions/{sid}", headers=alice)).json()
    assert (got["title"], got["context_type"], got["context_id"]) == ("Renamed", "general", None)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("title", {"title": ""}),
        ("title", {"title": "x" * 201}),
        ("title", {}),
        ("context", {"context_type": "space"}),
        ("context", {"context_type": "general", "context_id": "w1"}),
        ("context", {"context_type": "workflow"}),
        ("context", {"context_type": "agent", "context_id": ""}),
    ],
)
async def test_bad_title_and_context_are_422(
    client: httpx.AsyncClient, alice: dict[str, str], path: str, body: dict[str, object]
) -> None:
    sid = (await new_session(client, alice))["session_id"]
    r = await client.patch(f"/sessions/{sid}/{path}", json=body, headers=alice)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"


# RFC 7396 Appendix A, applied to the variables (whose target must be an object).
RFC7396_CASES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ({"a": 1}, {"a": {"b": None, "c": [None, 1]}}, {"a": {"c": [None, 1]}}),
    ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"d": None, "e": 3}}}, {"a": {"b": {"c": 1, "e": 3}}}),
    ({"a": 1}, {}, {"a": 1}),
]


@pytest.mark.parametrize(("start", "patch", "expected"), RFC7396_CASES)
async def test_variables_merge_patch(
    client: httpx.AsyncClient,
    alice: dict[str, str],
    start: dict[str, object],
    patch: dict[str, object],
    expected: object,
) -> None:
    # A target with a null value cannot be created through a patch, so start from `variables` at creation.
    sid = (await new_session(client, alice, variables=start))["session_id"]
    r = await client.patch(
        f"/sessions/{sid}/variables",
        content=httpx.Request("PATCH", "/", json=patch).content,
        headers={**alice, "content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"variables": expected}
    assert (await client.get(f"/sessions/{sid}", headers=alice)).json()["variables"] == expected


@pytest.mark.parametrize("body", [[1, 2], "x", None, 3])
async def test_variables_patch_must_be_an_object(
    client: httpx.AsyncClient, alice: dict[str, str], body: object
) -> None:
    sid = (await new_session(client, alice, variables={"a": 1}))["session_id"]
    r = await client.patch(f"/sessions/{sid}/variables", json=body, headers=alice)
    assert r.status_code == 422, r.text
    assert (await client.get(f"/sessions/{sid}", headers=alice)).json()["variables"] == {"a": 1}


async def test_variables_size_limit_rolls_back(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    sid = (await new_session(client, alice, variables={"a": "x" * 40_000}))["session_id"]
    r = await client.patch(f"/sessions/{sid}/variables", json={"b": "y" * 40_000}, headers=alice)
    assert r.status_code == 413, r.text
    got = (await client.get(f"/sessions/{sid}", headers=alice)).json()
    assert set(got["variables"]) == {"a"}
    r = await client.post("/sessions", json={"variables": {"a": "x" * 70_000}}, headers=alice)
    assert r.status_code == 413


async def test_tool_selection(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    sid = (await new_session(client, alice, selected_tool_ids=["old"]))["session_id"]
    r = await client.post(f"/sessions/{sid}/tools", json={"tool_ids": ["b", "a", "b"]}, headers=alice)
    assert r.status_code == 200 and r.json() == {"selected_tool_ids": ["b", "a"]}
    assert (await client.get(f"/sessions/{sid}", headers=alice)).json()["selected_tool_ids"] == ["b", "a"]
    r = await client.post(f"/sessions/{sid}/tools", json={"tool_ids": []}, headers=alice)
    assert r.json() == {"selected_tool_ids": []}
    for bad in [{"tool_ids": [""]}, {"tool_ids": "a"}, {}, {"tool_ids": ["x"] * 201}]:
        assert (await client.post(f"/sessions/{sid}/tools", json=bad, headers=alice)).status_code == 422


async def test_tool_configs_upsert_list_delete(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    sid = (await new_session(client, alice))["session_id"]
    r = await client.put(f"/sessions/{sid}/tools/web/config", json={"config": {"depth": 1}}, headers=alice)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["tool_id"] == "web" and first["config"] == {"depth": 1}
    r = await client.put(f"/sessions/{sid}/tools/web/config", json={"config": {"depth": 2}}, headers=alice)
    second = r.json()
    assert second["config"] == {"depth": 2} and second["created_at"] == first["created_at"]
    assert second["updated_at"] >= first["updated_at"]
    for tool in ["calc", "zeta", "alpha"]:
        await client.put(f"/sessions/{sid}/tools/{tool}/config", json={"config": {"t": tool}}, headers=alice)

    listed = (await client.get(f"/sessions/{sid}/tools/configs", headers=alice)).json()
    assert [c["tool_id"] for c in listed["items"]] == ["alpha", "calc", "web", "zeta"]
    assert listed["next_cursor"] is None
    page1 = (await client.get(f"/sessions/{sid}/tools/configs", params={"limit": 3}, headers=alice)).json()
    assert [c["tool_id"] for c in page1["items"]] == ["alpha", "calc", "web"]
    page2 = (
        await client.get(
            f"/sessions/{sid}/tools/configs", params={"limit": 3, "cursor": page1["next_cursor"]}, headers=alice
        )
    ).json()
    assert [c["tool_id"] for c in page2["items"]] == ["zeta"] and page2["next_cursor"] is None

    assert (await client.delete(f"/sessions/{sid}/tools/web/config", headers=alice)).status_code == 204
    r = await client.delete(f"/sessions/{sid}/tools/web/config", headers=alice)
    assert r.status_code == 404 and r.json()["error"] == "tool_config_not_found"
    listed = (await client.get(f"/sessions/{sid}/tools/configs", headers=alice)).json()
    assert [c["tool_id"] for c in listed["items"]] == ["alpha", "calc", "zeta"]
    for bad in [{"config": [1]}, {}, {"config": {"k": "v" * 70_000}}]:
        r = await client.put(f"/sessions/{sid}/tools/web/config", json=bad, headers=alice)
        assert r.status_code in (413, 422), r.text


async def test_run_setup_is_what_a_run_uses_without_the_messages(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = (await new_session(client, alice, variables={"topic": "tides"}))["session_id"]
    empty = (await client.get(f"/sessions/{sid}/run-setup", headers=alice)).json()
    assert empty == {"session_id": sid, "variables": {"topic": "tides"}, "selected_tool_ids": [], "tool_configs": {}}

    await client.post(f"/sessions/{sid}/tools", json={"tool_ids": ["web", "calculator"]}, headers=alice)
    for tool in ["zeta", "web", "alpha"]:
        await client.put(f"/sessions/{sid}/tools/{tool}/config", json={"config": {"t": tool}}, headers=alice)
    for i in range(30):
        await client.post(f"/sessions/{sid}/messages", json={"role": "user", "content": f"m{i}" * 50}, headers=alice)
    r = await client.get(f"/sessions/{sid}/run-setup", headers=alice)
    assert r.status_code == 200, r.text
    setup = r.json()
    assert setup["selected_tool_ids"] == ["web", "calculator"] and setup["variables"] == {"topic": "tides"}
    assert list(setup["tool_configs"]) == ["alpha", "web", "zeta"] and setup["tool_configs"]["web"] == {"t": "web"}
    # The conversation is not in it, so a send's read does not grow with the session.
    assert "messages" not in setup and len(r.content) < 300

    monkeypatch.setattr("services.session.service.MAX_RUN_TOOL_CONFIGS", 2)
    capped = (await client.get(f"/sessions/{sid}/run-setup", headers=alice)).json()
    assert list(capped["tool_configs"]) == ["alpha", "web"]

    for headers, path in [(bob, sid), (alice, str(uuid.uuid4()))]:
        r = await client.get(f"/sessions/{path}/run-setup", headers=headers)
        assert r.status_code == 404 and r.json()["error"] == "session_not_found", r.text


async def test_run_ids_are_recorded_once(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    sid = (await new_session(client, alice))["session_id"]
    run1, run2 = str(uuid.uuid4()), str(uuid.uuid4())
    assert (await client.post(f"/sessions/{sid}/run", json={"run_id": run1}, headers=alice)).json() == {
        "run_ids": [run1]
    }
    assert (await client.post(f"/sessions/{sid}/run", json={"run_id": run1}, headers=alice)).json() == {
        "run_ids": [run1]
    }
    r = await client.post(f"/sessions/{sid}/run", json={"run_id": run2}, headers=alice)
    assert r.json() == {"run_ids": [run1, run2]}
    assert (await client.get(f"/sessions/{sid}", headers=alice)).json()["run_ids"] == [run1, run2]
    assert (await client.post(f"/sessions/{sid}/run", json={"run_id": "nope"}, headers=alice)).status_code == 422


async def test_runs_listed_at_once_are_each_listed_once(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    sid = (await new_session(client, alice))["session_id"]
    runs = [str(uuid.uuid4()) for _ in range(40)]
    # Every run twice, all at once: each lands once, whoever wins the session row's lock.
    answers = await asyncio.gather(
        *(client.post(f"/sessions/{sid}/run", json={"run_id": run}, headers=alice) for run in runs + runs)
    )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    listed = (await client.get(f"/sessions/{sid}", headers=alice)).json()["run_ids"]
    assert sorted(listed) == sorted(runs)
    # Listed in the order the lock let them in: the last answer of each run shows every run listed before it.
    for answer in answers:
        shown = answer.json()["run_ids"]
        assert shown == listed[: len(shown)]


async def test_list_newest_activity_first_without_messages(client: httpx.AsyncClient) -> None:
    from tests.support.auth import headers_for

    carol = headers_for(uuid.uuid4())
    ids = [(await new_session(client, carol, title=f"s{i}"))["session_id"] for i in range(5)]
    # Activity moves a session to the top.
    await client.post(f"/sessions/{ids[1]}/messages", json={"role": "user", "content": "hi"}, headers=carol)
    expected = [ids[1], ids[4], ids[3], ids[2], ids[0]]
    listed = (await client.get("/sessions", headers=carol)).json()
    assert [s["session_id"] for s in listed["items"]] == expected
    assert listed["next_cursor"] is None
    assert all("messages" not in s for s in listed["items"])
    SessionPage.model_validate(listed)  # summaries: every session key but `messages`
    assert listed["items"][0]["message_count"] == 1

    seen, cursor = [], None
    while True:
        params: dict[str, object] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/sessions", params=params, headers=carol)).json()
        seen += [s["session_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected

    await client.patch(
        f"/sessions/{ids[0]}/context", json={"context_type": "workflow", "context_id": "w9"}, headers=carol
    )
    page = (
        await client.get("/sessions", params={"context_type": "workflow", "context_id": "w9"}, headers=carol)
    ).json()
    assert [s["session_id"] for s in page["items"]] == [ids[0]]
    for bad in [{"limit": 0}, {"limit": 201}, {"context_type": "x"}]:
        assert (await client.get("/sessions", params=bad, headers=carol)).status_code == 422
    r = await client.get("/sessions", params={"cursor": "garbage!"}, headers=carol)
    assert r.status_code == 400 and r.json()["error"] == "invalid_cursor"


async def test_delete_session_cascades_tool_configs(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    sid = (await new_session(client, alice))["session_id"]
    await client.put(f"/sessions/{sid}/tools/web/config", json={"config": {"a": 1}}, headers=alice)
    await client.get(f"/sessions/{sid}", headers=alice)  # cached
    assert (await client.delete(f"/sessions/{sid}", headers=alice)).status_code == 204
    assert (await client.delete(f"/sessions/{sid}", headers=alice)).status_code == 404
    assert (await client.get(f"/sessions/{sid}", headers=alice)).status_code == 404
    assert (await client.get(f"/sessions/{sid}/tools/configs", headers=alice)).status_code == 404
    engine = client.app.state.engine  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        from sqlalchemy import text

        left = await conn.scalar(
            text("SELECT count(*) FROM session.session_tool_configs WHERE session_id = :s"), {"s": sid}
        )
    assert left == 0


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    r = await client.get(f"/sessions/{uuid.uuid4()}", headers=alice)
    assert r.status_code == 404 and r.json()["error"] == "session_not_found"
    r = await client.get("/sessions/not-a-uuid", headers=alice)
    assert r.status_code == 422 and set(r.json()) == {"error", "detail"}


async def test_every_endpoint_needs_a_token(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    sid = (await new_session(client, alice))["session_id"]
    for method, path in _endpoints(sid, str(uuid.uuid4())):
        r = await client.request(method, path, json={})
        assert r.status_code == 401, (method, path, r.text)
        r = await client.request(method, path, json={}, headers={"Authorization": "Bearer not.a.token"})
        assert r.status_code == 401, (method, path, r.text)


def _endpoints(sid: str, message_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", "/sessions"),
        ("POST", "/sessions"),
        ("GET", f"/sessions/{sid}"),
        ("DELETE", f"/sessions/{sid}"),
        ("PATCH", f"/sessions/{sid}/title"),
        ("PATCH", f"/sessions/{sid}/context"),
        ("PATCH", f"/sessions/{sid}/variables"),
        ("POST", f"/sessions/{sid}/tools"),
        ("PUT", f"/sessions/{sid}/tools/web/config"),
        ("DELETE", f"/sessions/{sid}/tools/web/config"),
        ("GET", f"/sessions/{sid}/tools/configs"),
        ("POST", f"/sessions/{sid}/messages"),
        ("GET", f"/sessions/{sid}/messages"),
        ("DELETE", f"/sessions/{sid}/messages/{message_id}"),
        ("POST", f"/sessions/{sid}/run"),
    ]


async def test_two_user_isolation_matrix(client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]) -> None:
    """Bob sees none of Alice's session: every endpoint is a 404, and nothing of hers changes."""
    s = await new_session(client, alice, variables={"k": 1})
    sid = s["session_id"]
    msg = (
        await client.post(f"/sessions/{sid}/messages", json={"role": "user", "content": "mine"}, headers=alice)
    ).json()
    await client.put(f"/sessions/{sid}/tools/web/config", json={"config": {"a": 1}}, headers=alice)
    before = (await client.get(f"/sessions/{sid}", headers=alice)).json()

    bodies = {
        "PATCH title": {"title": "stolen"},
        "PATCH context": {"context_type": "general"},
        "PATCH variables": {"k": None},
        "POST tools": {"tool_ids": ["x"]},
        "PUT config": {"config": {"b": 2}},
        "POST messages": {"role": "user", "content": "intruder"},
        "POST run": {"run_id": str(uuid.uuid4())},
    }
    for method, path in _endpoints(sid, msg["message_id"]):
        if path in ("/sessions",):
            continue
        kind = f"{method} {path.rsplit('/', 1)[-1]}"
        body = next((b for k, b in bodies.items() if k.split()[0] == method and path.endswith(k.split()[1])), None)
        r = await client.request(method, path, json=body, headers=bob)
        assert r.status_code == 404, (kind, path, r.status_code, r.text)
        assert r.json()["error"] in ("session_not_found", "not_found"), r.text

    listed = (await client.get("/sessions", headers=bob)).json()
    assert sid not in [x["session_id"] for x in listed["items"]]
    assert (await client.get(f"/sessions/{sid}", headers=alice)).json() == before
    configs = (await client.get(f"/sessions/{sid}/tools/configs", headers=alice)).json()
    assert [c["config"] for c in configs["items"]] == [{"a": 1}]
