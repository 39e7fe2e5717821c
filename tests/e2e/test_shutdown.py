"""SIGTERM, as Kubernetes sends it: a gateway closes its WebSockets with 1001 and exits in time, its clients carry on
at a second gateway from `after_seq` with no gap, and every service exits within 25 s."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import register_and_login
from tests.support.platform import Platform, free_port, make_platform
from tests.support.runs import Followed, echo_agent, read_until_closed, save_workflow, send, token_of
from tests.support.servers import Servers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GRACE_SECONDS = 25.0


@pytest.fixture
def two_gateways(database_url: str, servers: Servers, tmp_path: Path) -> Iterator[tuple[Platform, Platform]]:
    """A whole platform, and a second gateway beside its own on the same services and broker."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = make_platform(database_url, servers.amqp_url, servers.memcached, tmp_path / "one")
    port = free_port()
    second = Platform(
        env={**first.env, "ECHO_GATEWAY_PORT": str(port)},
        ports={**first.ports, "gateway": port},
        log_dir=tmp_path / "two",
    )
    try:
        first.start_all()
        second.start("gateway")
        second.wait_healthy("gateway")
        yield first, second
    finally:
        second.stop_all()
        first.stop_all()


def exit_time(proc: subprocess.Popen[bytes], started: float) -> float:
    try:
        proc.wait(GRACE_SECONDS + 5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        return float("inf")
    return time.monotonic() - started


async def test_sigterm_closes_websockets_with_1001_and_another_gateway_goes_on(
    two_gateways: tuple[Platform, Platform],
) -> None:
    first, second = two_gateways
    with httpx.Client(base_url=first.url, timeout=30) as gateway:
        headers = register_and_login(gateway, f"shutdown-{uuid.uuid4().hex[:6]}@example.com")
        agents = [echo_agent(f"s{i}", f"Step{i}", delay_ms=700) for i in range(6)]
        run_id = send(gateway, headers, save_workflow(gateway, headers, agents))
    query = f"token={token_of(headers)}"

    followed = [Followed() for _ in range(3)]
    sockets = [await connect(f"{first.ws_url}/ws/execution/{run_id}?{query}&after_seq=0") for _ in followed]
    readers = [asyncio.create_task(read_until_closed(ws, f)) for ws, f in zip(sockets, followed, strict=True)]
    async with asyncio.timeout(30):  # every client is following live: the first step is done
        while not all(any(e["type"] == "step_completed" for e in f.events) for f in followed):
            await asyncio.sleep(0.05)

    proc = first.procs.pop("gateway")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(15):
        await asyncio.gather(*readers)
    for f in followed:
        assert f.code == 1001, f.code
        assert f.events and f.events[-1]["type"] != "run_completed"  # the run was still going
    took = await asyncio.to_thread(exit_time, proc, started)
    print(f"gateway with 3 WebSockets exited {took:.2f}s after SIGTERM")
    assert took < GRACE_SECONDS, f"the gateway took {took:.1f}s to exit"
    assert proc.returncode is not None

    # Each client reconnects to the other gateway from the last seq it saw: the rest, no gap, no duplicate.
    for f in followed:
        last = f.seqs[-1]
        async with (
            asyncio.timeout(30),
            connect(f"{second.ws_url}/ws/execution/{run_id}?{query}&after_seq={last}") as ws,
        ):
            rest = await read_until_closed(ws, Followed())
        assert rest.code == 1000
        assert f.seqs + rest.seqs == list(range(1, rest.seqs[-1] + 1))
        assert rest.events[-1]["type"] == "run_completed"
        assert [e["type"] for e in f.events + rest.events].count("step_completed") == 6

    # Every other service (and the second gateway) exits within the grace period too.
    procs = {**first.procs, "second gateway": second.procs["gateway"]}
    first.procs.clear()
    second.procs.clear()
    started = time.monotonic()
    for p in procs.values():
        p.send_signal(signal.SIGTERM)
    times = {name: await asyncio.to_thread(exit_time, p, started) for name, p in procs.items()}
    print("exit after SIGTERM:", {name: f"{t:.2f}s" for name, t in times.items()})
    assert all(t < GRACE_SECONDS for t in times.values()), times
