"""Step-event fan-out: publish → WebSocket delivery latency through a gateway process, beside bare aio-pika.

Loopback only and bounded: one gateway subprocess on a free port, a throwaway broker namespace (deleted at the
end), RATE events/s for SECONDS seconds. Latency is stamped (perf_counter) into each event's data by the
publisher and read by the receivers, all in this process, so the two ends share a clock.

Two shapes of the same load: `spread` (50 runs with one client each: 1,000 deliveries/s) and `shared`
(one run watched by 50 clients: 50,000 deliveries/s). Two baselines: bare aio-pika publish → consume alone
first ("quiet"), and a bare aio-pika consumer bound to the same exchange during the gateway run, receiving the
same messages ("same run"). On a 2-core machine the clients share this process with the publisher, so the
"same run" baseline shows how much of the latency is this process being busy rather than the gateway.

    .venv/bin/python bench/fanout.py [--rate 1000] [--clients 50] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import httpx
import jwt
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.messaging.messages import StepEventV1  # noqa: E402
from shared.messaging.topology import Topology, event_routing_key  # noqa: E402

AMQP = os.environ.get("ECHO_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def summary(name: str, ms: list[float]) -> str:
    return f"{name:<34} n={len(ms):>7}  p50={pct(ms, 50):7.2f} ms  p99={pct(ms, 99):7.2f} ms  max={max(ms):8.2f} ms"


class Gateway:
    """One gateway process on a free port, in its own broker namespace."""

    def __init__(self, namespace: str, secret: str):
        self.port = free_port()
        env = {
            **os.environ,
            "ECHO_BROKER_NAMESPACE": namespace,
            "ECHO_JWT_SECRET": secret,
            "ECHO_GATEWAY_PORT": str(self.port),
            "ECHO_EXECUTOR_PORT": str(free_port()),  # nothing there: runs are known from their events
            "ECHO_LOG_LEVEL": "WARNING",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.gateway", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_ready(self) -> None:
        async with httpx.AsyncClient() as http, asyncio.timeout(60):
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the gateway exited with {self.proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.url}/health/broker", timeout=1)).status_code == 200:
                        return
                await asyncio.sleep(0.2)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def make_event(run_id: uuid.UUID, user_id: uuid.UUID, seq: int, type_: str = "step_output") -> bytes:
    ev = StepEventV1(
        type=type_,  # type: ignore[arg-type]
        run_id=run_id,
        user_id=user_id,
        seq=seq,
        ts=datetime.now(UTC),
        step_id="s1",
        agent_id="a1",
        agent_name="Bench",
        data={"t": time.perf_counter(), "delta": "x" * 64},
    )
    return ev.to_bytes()


async def paced(rate: int, total: int, send: Callable[[int], Awaitable[None]]) -> float:
    """Call `send(i)` for i < total at `rate` per second on an absolute schedule; returns the seconds taken."""
    started = time.perf_counter()
    for i in range(total):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(i)
    return time.perf_counter() - started


async def bare_baseline(*, rate: int = 1000, seconds: float = 5.0) -> list[float]:
    """Bare aio-pika publish → consume of the same kind of message, alone (no gateway, no WebSocket clients)."""
    topo = Topology(f"bench.{secrets.token_hex(4)}")
    conn = await aio_pika.connect(AMQP)
    try:
        channel = await conn.channel(publisher_confirms=False)
        exchange = await channel.declare_exchange(topo.events_exchange, aio_pika.ExchangeType.TOPIC, auto_delete=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, "run.#")
        latencies: list[float] = []
        total = int(rate * seconds)
        done = asyncio.Event()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            received = time.perf_counter()
            latencies.append((received - json.loads(message.body)["data"]["t"]) * 1000)
            if len(latencies) == total:
                done.set()

        await queue.consume(on_message, no_ack=True)
        run_id, user_id = uuid.uuid4(), uuid.uuid4()

        async def send(i: int) -> None:
            msg = aio_pika.Message(make_event(run_id, user_id, i + 1), content_type="application/json")
            await exchange.publish(msg, event_routing_key(run_id, "step_output"))

        took = await paced(rate, total, send)
        await asyncio.wait_for(done.wait(), 30)
        print(f"\n[quiet baseline] {total} events in {took:.2f} s ({total / took:.0f}/s)")
        print(summary("bare aio-pika publish→consume", latencies))
        return latencies
    finally:
        await conn.close()


async def fanout_latency(
    shape: str, *, rate: int = 1000, clients: int = 50, seconds: float = 5.0, quiet: list[float] | None = None
) -> dict[str, float]:
    """Gateway delivery latency vs bare aio-pika for one load shape; returns p50/p99 of both (ms)."""
    namespace = f"bench.{secrets.token_hex(4)}"
    topo = Topology(namespace)
    secret = secrets.token_urlsafe(32)
    owner = uuid.uuid4()
    now = int(time.time())
    claims = {"sub": str(owner), "iat": now, "exp": now + 600, "iss": "echoai", "aud": "echoai"}
    token = jwt.encode(claims, secret, algorithm="HS256")
    runs = [uuid.uuid4() for _ in range(clients if shape == "spread" else 1)]
    gateway = Gateway(namespace, secret)
    conn = await aio_pika.connect(AMQP)
    try:
        await gateway.wait_ready()
        channel = await conn.channel(publisher_confirms=False)
        exchange = await channel.declare_exchange(topo.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)

        baseline: list[float] = []
        base_queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await base_queue.bind(exchange, "run.#")

        async def on_base(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            received = time.perf_counter()
            body = json.loads(message.body)
            if body["type"] == "step_output":
                baseline.append((received - body["data"]["t"]) * 1000)

        await base_queue.consume(on_base, no_ack=True)

        seqs = dict.fromkeys(runs, 0)

        async def send(run_id: uuid.UUID, type_: str = "step_output") -> None:
            seqs[run_id] += 1
            body = make_event(run_id, owner, seqs[run_id], type_)
            msg = aio_pika.Message(body, content_type="application/json")
            await exchange.publish(msg, event_routing_key(run_id, type_))

        # Make every run known to the gateway (no executor here to vouch for it), then connect the clients.
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http, asyncio.timeout(30):
            for run_id in runs:
                await send(run_id, "run_started")
            for run_id in runs:
                while (await http.get(f"{gateway.url}/workflows/execution/{run_id}/steps")).status_code != 200:
                    await asyncio.sleep(0.05)

        delivered: list[float] = []
        counts: list[int] = []

        async def client(run_id: uuid.UUID) -> None:
            url = f"ws://127.0.0.1:{gateway.port}/ws/execution/{run_id}?token={token}&after_seq=1"
            n = 0
            async with connect(url, proxy=None, max_size=None, compression=None) as ws:
                async for raw in ws:
                    received = time.perf_counter()
                    body = json.loads(raw)
                    if body["type"] == "step_output":
                        delivered.append((received - body["data"]["t"]) * 1000)
                        n += 1
            counts.append(n)

        tasks = [asyncio.create_task(client(runs[i % len(runs)])) for i in range(clients)]
        await asyncio.sleep(1.0)
        total = int(rate * seconds)
        gw_cpu, own_cpu = gateway.cpu_seconds(), time.process_time()
        publish_s = await paced(rate, total, lambda i: send(runs[i % len(runs)]))
        for run_id in runs:
            await send(run_id, "run_completed")
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        await asyncio.sleep(0.2)
        gw_cpu, own_cpu = gateway.cpu_seconds() - gw_cpu, time.process_time() - own_cpu

        expected = total * clients // len(runs)
        print(
            f"\n[{shape}] {len(runs)} run(s), {clients} clients, {total} events in {publish_s:.2f} s "
            f"({total / publish_s:.0f}/s), {expected} deliveries expected, {sum(counts)} delivered"
        )
        print(f"CPU: gateway {gw_cpu:.1f} s, this process (publisher + clients) {own_cpu:.1f} s")
        print(summary("bare aio-pika, same messages", baseline))
        print(summary("gateway publish→WebSocket", delivered))
        for name, base in (("same run", baseline), ("quiet", quiet or [])):
            if base:
                print(
                    f"{'ratio gateway / bare (' + name + ')':<34} p50 x{pct(delivered, 50) / pct(base, 50):.1f}"
                    f"  p99 x{pct(delivered, 99) / pct(base, 99):.1f}"
                )
        if total / publish_s < rate * 0.95:
            print(f"note: the publisher managed only {total / publish_s:.0f}/s: this machine is saturated")
        return {
            "base_p50": pct(baseline, 50),
            "base_p99": pct(baseline, 99),
            "gw_p50": pct(delivered, 50),
            "gw_p99": pct(delivered, 99),
            "rate": total / publish_s,
        }
    finally:
        gateway.stop()
        with contextlib.suppress(Exception):
            cleanup = await conn.channel()
            for spec in topo.durable_queues:
                await cleanup.queue_delete(spec.name)
            for ex in topo.exchanges:
                await cleanup.exchange_delete(ex.name)
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--shape", choices=["spread", "shared", "both"], default="both")
    args = parser.parse_args()
    shapes = ["spread", "shared"] if args.shape == "both" else [args.shape]
    quiet = await bare_baseline(rate=args.rate, seconds=args.seconds)
    for shape in shapes:
        await fanout_latency(shape, rate=args.rate, clients=args.clients, seconds=args.seconds, quiet=quiet)


if __name__ == "__main__":
    asyncio.run(main())
