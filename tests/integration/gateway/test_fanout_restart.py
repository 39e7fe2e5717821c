"""The gateway's exclusive event queue comes back after a RabbitMQ restart.

RabbitMQ is shared with other test runs: the outage is one `stop_app` straight followed by `start_app` (a few
seconds), and `start_app` runs in `finally` whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
import uuid

import pytest

from shared.errors import ServiceUnavailable
from shared.messaging import Broker
from tests.integration.gateway.conftest import Served, follow, publish
from tests.support.auth import token_for
from tests.unit.gateway.events import event

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl on this machine"),
]


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=30)


async def test_events_flow_again_after_a_broker_restart(gw: Served, publisher: Broker) -> None:
    owner = uuid.uuid4()
    before = uuid.uuid4()
    await publish(publisher, event(before, owner, 1, "run_started"))
    await gw.seen(before, 1)

    started = time.monotonic()
    try:
        await asyncio.to_thread(rabbitmqctl, "stop_app")
    finally:
        await asyncio.to_thread(rabbitmqctl, "start_app")
    outage = time.monotonic() - started
    assert outage < 10, f"the broker was away {outage:.1f}s"

    # Both sides reconnect on their own; probe with events of a new run until the gateway sees one.
    run, seq = uuid.uuid4(), 0
    async with asyncio.timeout(60):
        while gw.hub.registry.get(run) is None:
            seq += 1
            with contextlib.suppress(ServiceUnavailable):  # the publisher may still be reconnecting
                await publish(publisher, event(run, owner, seq, "run_started" if seq == 1 else "step_output"))
            await asyncio.sleep(0.5)
    last = gw.hub.registry.get(run).last_seq  # type: ignore[union-attr]
    client = asyncio.create_task(follow(gw.ws(run, token=token_for(owner), after_seq=last)))
    await asyncio.sleep(0.3)
    await publish(publisher, *(event(run, owner, s) for s in range(seq + 1, seq + 6)))
    await publish(publisher, event(run, owner, seq + 6, "run_completed"))
    got = await client
    assert got.seqs == list(range(last + 1, seq + 7))
    assert got.code == 1000
