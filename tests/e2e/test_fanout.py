"""Two gateway processes side by side: each has its own queue on the events exchange, both deliver everything."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.messaging import Broker
from shared.settings import get_settings
from tests.integration.gateway.conftest import follow, publish
from tests.support.auth import headers_for, token_for
from tests.support.platform import Platform, free_port, make_platform
from tests.support.servers import Servers
from tests.unit.gateway.events import event

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_gateways(database_url: str, servers: Servers, tmp_path: Path) -> Iterator[list[Platform]]:
    """Two gateways on one broker namespace; their upstreams point at ports nobody listens on."""
    gateways = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            p = make_platform(database_url, servers.amqp_url, servers.memcached, tmp_path / name)
            p.ports.update({"workflow": free_port(), "session": free_port(), "executor": free_port()})
            p.env.update({f"ECHO_{n.upper()}_PORT": str(p.ports[n]) for n in ("workflow", "session", "executor")})
            p.start("gateway")
            gateways.append(p)
        for p in gateways:
            p.wait_healthy("gateway")
        yield gateways
    finally:
        for p in gateways:
            p.stop_all()


async def knows(http: httpx.AsyncClient, gateway: Platform, run: uuid.UUID, owner: uuid.UUID) -> bool:
    r = await http.get(f"{gateway.url}/workflows/execution/{run}/steps", headers=headers_for(owner))
    return r.status_code == 200


async def test_two_gateways_both_deliver_every_event(two_gateways: list[Platform]) -> None:
    broker = Broker(get_settings(), name="e2e-step-events")
    broker.start()
    assert await broker.wait_connected(15)
    owner = uuid.uuid4()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            # A gateway binds its queue just after it reports the broker up: probe until both see events.
            probe, seq = uuid.uuid4(), 0
            async with asyncio.timeout(30):
                while not all([await knows(http, g, probe, owner) for g in two_gateways]):
                    seq += 1
                    await publish(broker, event(probe, owner, seq))
                    await asyncio.sleep(0.2)

            run = uuid.uuid4()
            sent = [event(run, owner, 1, "run_started")]
            await publish(broker, sent[0])
            async with asyncio.timeout(10):
                while not all([await knows(http, g, run, owner) for g in two_gateways]):
                    await asyncio.sleep(0.05)
            token = token_for(owner)
            clients = [
                asyncio.create_task(follow(f"{g.ws_url}/ws/execution/{run}?token={token}", timeout=30))
                for g in two_gateways
            ]
            await asyncio.sleep(0.5)
            sent += [event(run, owner, s, "step_output", "a", delta=str(s)) for s in range(2, 200)]
            sent.append(event(run, owner, 200, "run_completed", output="done"))
            await publish(broker, *sent[1:])
            for got in await asyncio.gather(*clients):
                assert got.events == [e.public() for e in sent]
                assert got.code == 1000
            for g in two_gateways:
                r = await http.get(f"{g.url}/workflows/execution/{run}/steps", headers=headers_for(owner))
                assert (r.status_code, r.json()["status"], r.json()["last_seq"]) == (200, "completed", 200)
                r = await http.get(f"{g.url}/workflows/execution/{run}/steps", headers=headers_for(uuid.uuid4()))
                assert r.status_code == 404
                got = await follow(f"{g.ws_url}/ws/execution/{run}?token={token_for(uuid.uuid4())}")
                assert (got.events, got.code) == ([], 1008)
    finally:
        await broker.close()
    for g in two_gateways:
        log = (g.log_dir / "gateway.log").read_text()
        assert "WebSocket /ws/execution/" in log and "token=[redacted]" in log
        assert token.split(".")[2] not in log
