"""Live step events through a real RabbitMQ and a real WebSocket server (docs/api.md#live-events)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect

from shared.messaging import Broker
from tests.integration.gateway.conftest import Served, follow, publish, read_all, serve_gateway
from tests.support.auth import headers_for, token_for
from tests.unit.gateway.events import event

pytestmark = pytest.mark.integration


async def test_live_events_in_order_then_close_1000(gw: Served, publisher: Broker) -> None:
    owner, run = uuid.uuid4(), uuid.uuid4()
    sent = [event(run, owner, 1, "run_started")]
    await publish(publisher, sent[0])
    await gw.seen(run, 1)
    client = asyncio.create_task(follow(gw.ws(run, token=token_for(owner))))
    await asyncio.sleep(0.3)  # connected and subscribed: the rest arrives live
    sent += [event(run, owner, seq, "step_output", "a", delta=f"part {seq}") for seq in range(2, 50)]
    sent.append(event(run, owner, 50, "run_completed", output="done"))
    await publish(publisher, *sent[1:])
    got = await client
    assert got.events == [e.public() for e in sent]
    assert (got.code, got.reason) == (1000, "run finished")


async def test_after_seq_replays_the_buffer_then_goes_live(gw: Served, publisher: Broker) -> None:
    owner, run = uuid.uuid4(), uuid.uuid4()
    await publish(publisher, *(event(run, owner, seq) for seq in range(1, 11)))
    await gw.seen(run, 10)
    client = asyncio.create_task(follow(gw.ws(run, token=token_for(owner), after_seq=6)))
    await asyncio.sleep(0.3)
    await publish(publisher, *(event(run, owner, seq) for seq in range(11, 15)), event(run, owner, 15, "run_failed"))
    got = await client
    assert got.seqs == list(range(7, 16))
    assert got.events[-1]["type"] == "run_failed"
    assert got.code == 1000


async def test_finished_run_replays_and_closes(gw: Served, publisher: Broker) -> None:
    owner, run = uuid.uuid4(), uuid.uuid4()
    await publish(publisher, event(run, owner, 1, "run_started"), event(run, owner, 2, "run_cancelled"))
    await gw.seen(run, 2)
    got = await follow(gw.ws(run, token=token_for(owner)))
    assert (got.seqs, got.code) == ([1, 2], 1000)
    got = await follow(gw.ws(run, token=token_for(owner), after_seq=2))
    assert (got.seqs, got.code) == ([], 1000)


async def test_first_message_auth(gw: Served, publisher: Broker) -> None:
    owner, run = uuid.uuid4(), uuid.uuid4()
    await publish(publisher, event(run, owner, 1, "run_started"), event(run, owner, 2, "run_completed"))
    await gw.seen(run, 2)
    got = await follow(gw.ws(run), first={"type": "auth", "token": token_for(owner)})
    assert (got.seqs, got.code) == ([1, 2], 1000)
    got = await follow(gw.ws(run), first={"type": "hello"})
    assert (got.events, got.code) == ([], 1008)


async def test_bad_tokens_and_other_users_are_closed_1008(gw: Served, publisher: Broker) -> None:
    owner, run = uuid.uuid4(), uuid.uuid4()
    await publish(publisher, event(run, owner, 1, "run_started"))
    await gw.seen(run, 1)
    for token in ("not-a-jwt", token_for(owner, exp=int(time.time()) - 10), token_for(uuid.uuid4())):
        got = await follow(gw.ws(run, token=token))
        assert (got.events, got.code) == ([], 1008), token
    got = await follow(gw.ws(run), first={"type": "auth", "token": token_for(uuid.uuid4())})
    assert (got.events, got.code) == ([], 1008)


async def test_auth_timeout_closes_1008() -> None:
    async with serve_gateway(ws_auth_timeout_seconds=0.5) as gw:
        started = time.monotonic()
        got = await follow(gw.ws(uuid.uuid4()))
        waited = time.monotonic() - started
    assert (got.events, got.code) == ([], 1008)
    assert "authentication required within 0.5 s" in got.reason
    assert waited < 5  # the shorter setting applied, not the 5 s default


async def test_steps_endpoint_serves_memory_and_hides_other_users_runs(gw: Served, publisher: Broker) -> None:
    owner, run = uuid.uuid4(), uuid.uuid4()
    await publish(
        publisher,
        event(run, owner, 1, "run_started"),
        event(run, owner, 2, "step_started", "a"),
        event(run, owner, 3, "step_completed", "a", output="facts"),
        event(run, owner, 4, "run_paused", checkpoint_id="c1"),
    )
    await gw.seen(run, 4)
    async with httpx.AsyncClient(base_url=gw.url) as http:
        r = await http.get(f"/workflows/execution/{run}/steps", headers=headers_for(owner))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["run_id"], body["status"], body["last_seq"]) == (str(run), "paused", 4)
        assert [(s["step_id"], s["agent_name"], s["status"], s["output"]) for s in body["steps"]] == [
            ("a", "Agent a", "completed", "facts")
        ]
        r = await http.get(f"/workflows/execution/{run}/steps", headers=headers_for(uuid.uuid4()))
        assert r.status_code == 404
        assert r.json()["error"] == "not_found"
        r = await http.get(f"/workflows/execution/{run}/steps")
        assert r.status_code == 401


async def test_unknown_run_with_executor_unreachable(gw: Served) -> None:
    owner, run = uuid.uuid4(), uuid.uuid4()
    got = await follow(gw.ws(run, token=token_for(owner)))
    assert (got.events, got.code) == ([], 1013)
    assert "executor" in got.reason
    async with httpx.AsyncClient(base_url=gw.url) as http:
        r = await http.get(f"/workflows/execution/{run}/steps", headers=headers_for(owner))
    assert r.status_code == 502
    assert r.json()["error"] == "upstream_unavailable"


async def test_finished_run_is_forgotten_after_the_ttl(publisher: Broker) -> None:
    async with serve_gateway(step_ttl_seconds=1) as gw:
        await forgotten_after_ttl(gw, publisher)


async def forgotten_after_ttl(gw: Served, publisher: Broker) -> None:
    owner, run = uuid.uuid4(), uuid.uuid4()
    await publish(publisher, event(run, owner, 1, "run_started"), event(run, owner, 2, "run_completed"))
    await gw.seen(run, 2)
    async with httpx.AsyncClient(base_url=gw.url) as http:
        r = await http.get(f"/workflows/execution/{run}/steps", headers=headers_for(owner))
        assert (r.status_code, r.json()["status"]) == (200, "completed")
        await asyncio.sleep(1.2)
        assert gw.hub.registry.get(run) is None
        # Gone from memory, the gateway asks the executor (unreachable here) rather than inventing an answer.
        r = await http.get(f"/workflows/execution/{run}/steps", headers=headers_for(owner))
        assert r.status_code == 502


async def test_slow_client_is_dropped_1013_while_a_fast_client_gets_everything(publisher: Broker) -> None:
    async with serve_gateway(ws_client_queue_size=100) as gw:
        gw.hub.close_timeout = 30  # the slow client reads again later and must then see the 1013 close
        await slow_and_fast(gw, publisher)


async def slow_and_fast(gw: Served, publisher: Broker) -> None:
    owner, run = uuid.uuid4(), uuid.uuid4()
    await publish(publisher, event(run, owner, 1, "run_started"))
    await gw.seen(run, 1)
    # The slow client stops reading after one frame and has a tiny socket buffer, so the server's writes stall.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", gw.port))
    sock.setblocking(False)
    url = gw.ws(run, token=token_for(owner))
    async with connect(url, sock=sock, max_queue=1, compression=None, proxy=None, max_size=None) as slow:
        fast = asyncio.create_task(follow(url, timeout=60))
        await asyncio.sleep(0.3)
        total = 1500
        for start in range(2, total, 50):
            await publish(
                publisher, *(event(run, owner, s, blob=os.urandom(8000).hex()) for s in range(start, start + 50))
            )
            await asyncio.sleep(0.01)
        await publish(publisher, event(run, owner, total + 2, "run_completed"))
        got = await fast
        assert got.seqs == list(range(1, total + 3))
        assert got.code == 1000
        dropped = await asyncio.wait_for(read_all(slow), 60)
    assert dropped.code == 1013, dropped.reason
    assert "too slow" in dropped.reason
    assert dropped.seqs == list(range(1, len(dropped.seqs) + 1))  # what it did get came in order, no gap
    assert len(dropped.seqs) < total


async def test_token_never_reaches_the_logs(gw: Served, publisher: Broker, caplog: pytest.LogCaptureFixture) -> None:
    owner, run = uuid.uuid4(), uuid.uuid4()
    await publish(publisher, event(run, owner, 1, "run_completed"))
    await gw.seen(run, 1)
    token = token_for(owner)
    caplog.set_level(logging.DEBUG)
    got = await follow(gw.ws(run, token=token))
    assert got.code == 1000
    await follow(gw.ws(run, token=token + "tampered"))
    assert "WebSocket /ws/execution" in caplog.text  # uvicorn did log the connection...
    assert token.split(".")[1] not in caplog.text  # ...without the token
    assert "token=[redacted]" in caplog.text


async def test_batched_acks_keep_the_prefetch_window_moving(publisher: Broker) -> None:
    # Acks in batches of a quarter of the prefetch window: were they lost, RabbitMQ would stop after 20 deliveries.
    async with serve_gateway(ws_client_queue_size=8) as served:
        assert (served.hub.prefetch, served.hub.ack_batch) == (4, 1)
    async with serve_gateway(ws_client_queue_size=40) as served:
        assert (served.hub.prefetch, served.hub.ack_batch) == (20, 5)
        owner, run = uuid.uuid4(), uuid.uuid4()
        await publish(publisher, *(event(run, owner, seq) for seq in range(1, 203)))
        await served.seen(run, 202)
        await asyncio.sleep(served.hub.ack_delay * 3)  # the last two, after the last full batch, by the timer
        await publish(publisher, *(event(run, owner, seq) for seq in range(203, 223)))
        await served.seen(run, 222)
