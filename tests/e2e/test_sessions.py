"""Chat sessions through the gateway, with all four services running as processes."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime

import aio_pika
import httpx
import pytest

from services.session.schemas import MessageOut, SessionOut, SessionPage, VariablesOut
from shared.messaging.messages import RunFinishedV1
from shared.messaging.topology import RUN_FINISHED_KEY, Topology
from tests.e2e.conftest import register_and_login
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e


def _user_id(gateway: httpx.Client, headers: dict[str, str]) -> uuid.UUID:
    return uuid.UUID(gateway.get("/auth/me", headers=headers).json()["user_id"])


async def test_200_concurrent_appends_through_the_gateway(platform: Platform, gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"many-{uuid.uuid4().hex[:8]}@example.com")
    sid = gateway.post("/sessions", json={"title": "busy"}, headers=headers).json()["session_id"]
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=platform.url, headers=headers, timeout=60, limits=limits) as client:
        responses = await asyncio.gather(
            *(client.post(f"/sessions/{sid}/messages", json={"role": "user", "content": f"c{i}"}) for i in range(200))
        )
    assert [r.status_code for r in responses] == [201] * 200
    sent = [MessageOut.model_validate_json(r.content) for r in responses]
    assert sorted(m.seq for m in sent) == list(range(1, 201))
    session = SessionOut.model_validate_json(gateway.get(f"/sessions/{sid}", headers=headers).content)
    assert session.message_count == 200
    assert [m.seq for m in session.messages] == list(range(1, 201))
    assert sorted(m.content for m in session.messages) == sorted(f"c{i}" for i in range(200))
    assert sorted(session.messages, key=lambda m: m.message_id) == sorted(sent, key=lambda m: m.message_id)


def test_session_round_trip_and_isolation(gateway: httpx.Client) -> None:
    alice = register_and_login(gateway, f"alice-{uuid.uuid4().hex[:8]}@example.com")
    bob = register_and_login(gateway, f"bob-{uuid.uuid4().hex[:8]}@example.com")
    r = gateway.post("/sessions", json={"title": "Plan", "variables": {"a": {"b": 1, "c": 2}}}, headers=alice)
    assert r.status_code == 201, r.text
    sid = r.json()["session_id"]
    assert (
        gateway.post(f"/sessions/{sid}/messages", json={"role": "user", "content": "hi"}, headers=alice).status_code
        == 201
    )
    r = gateway.patch(f"/sessions/{sid}/variables", json={"a": {"b": None}, "d": 4}, headers=alice)
    assert VariablesOut.model_validate_json(r.content) == VariablesOut(variables={"a": {"c": 2}, "d": 4})
    assert gateway.post(f"/sessions/{sid}/tools", json={"tool_ids": ["t1"]}, headers=alice).status_code == 200
    assert gateway.put(f"/sessions/{sid}/tools/t1/config", json={"config": {"k": 1}}, headers=alice).status_code == 200
    got = SessionOut.model_validate_json(gateway.get(f"/sessions/{sid}", headers=alice).content)
    assert got.messages[0].content == "hi" and got.selected_tool_ids == ["t1"]
    listed = SessionPage.model_validate_json(gateway.get("/sessions", headers=alice).content)
    assert [str(s.session_id) for s in listed.items] == [sid]

    for method, path in [
        ("GET", f"/sessions/{sid}"),
        ("GET", f"/sessions/{sid}/messages"),
        ("DELETE", f"/sessions/{sid}"),
    ]:
        assert gateway.request(method, path, headers=bob).status_code == 404
    assert gateway.get("/sessions", headers=bob).json()["items"] == []

    assert gateway.delete(f"/sessions/{sid}", headers=alice).status_code == 204
    assert gateway.delete(f"/sessions/{sid}", headers=alice).status_code == 404
    assert gateway.get(f"/sessions/{sid}/tools/configs", headers=alice).status_code == 404


def test_write_then_read_through_the_gateway_is_never_stale(gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"fresh-{uuid.uuid4().hex[:8]}@example.com")
    sid = gateway.post("/sessions", json={}, headers=headers).json()["session_id"]
    # Long messages, so the session soon outgrows the inline read (32 KiB) and goes through Memcached.
    filler = "x" * 2048
    for i in range(1, 101):
        gateway.post(f"/sessions/{sid}/messages", json={"role": "user", "content": f"m{i} {filler}"}, headers=headers)
        gateway.patch(f"/sessions/{sid}/title", json={"title": f"t{i}"}, headers=headers)
        for _ in range(2):  # the second read is served from the cache
            got = gateway.get(f"/sessions/{sid}", headers=headers).json()
            assert (got["message_count"], got["title"]) == (i, f"t{i}")
        page = gateway.get(f"/sessions/{sid}/messages", params={"after_seq": i - 1}, headers=headers).json()
        assert [m["content"] for m in page["items"]] == [f"m{i} {filler}"]


async def test_run_outcome_from_the_broker_lands_once(gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"runs-{uuid.uuid4().hex[:8]}@example.com")
    sid = gateway.post("/sessions", json={}, headers=headers).json()["session_id"]
    outcome = RunFinishedV1(
        run_id=uuid.uuid4(),
        workflow_id=uuid.uuid4(),
        user_id=_user_id(gateway, headers),
        session_id=uuid.UUID(sid),
        status="completed",
        output="42",
        finished_at=datetime.now(UTC),
    )
    topology = Topology(os.environ["ECHO_BROKER_NAMESPACE"])
    connection = await aio_pika.connect(os.environ["ECHO_AMQP_URL"])
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(topology.runs_exchange)
        for _ in range(2):
            message = aio_pika.Message(outcome.to_bytes(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await exchange.publish(message, RUN_FINISHED_KEY)
    for _ in range(200):
        session = gateway.get(f"/sessions/{sid}", headers=headers).json()
        if session["message_count"]:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1)
    session = gateway.get(f"/sessions/{sid}", headers=headers).json()
    assert [(m["role"], m["content"], m["run_id"]) for m in session["messages"]] == [
        ("assistant", "42", str(outcome.run_id))
    ]
    assert session["run_ids"] == [str(outcome.run_id)]
