"""Runs: send → `run_started` on the WebSocket, and the runs/s one executor sustains, beside bare baselines.

Loopback only and bounded. In a scratch database (created, migrated, dropped here) and a broker namespace of its
own (deleted at the end), all four services run as processes (one executor, ECHO_EXECUTOR_CONCURRENCY default 4,
services logging at WARNING). The workflow is 2 agents, sequential, on the built-in `echo` model.

- latency: `--probes` sends one after the other on an idle platform; for each, the time from POST
  /workflows/chat/send (through the gateway) to its 202, and to the `run_started` frame on a WebSocket opened right
  after the 202 (`after_seq=0`, so an event that came first is replayed), and to the executor's stamp on that
  event. Each run is waited out, and after a pause one floor probe follows, so both see the same conditions.
- floor: a GET of a run that does not exist, through the gateway, from the same client: client → gateway →
  executor → one query → 404. Every request that reaches a service's database pays this on this machine; a send
  pays it and then publishes its request and writes its row. Printed beside send → 202, so a reader can tell the
  machine's floor from the send's own cost.
- sends into a chat session: `--probes` sends with a `session_id`, taking turns between a session of 10 messages
  and one of 1,000 (each run waited out). Such a send also reads the session's run setup, adds the user's message
  and lists the run on the session; the ratio of the two p50s shows whether any of that grows with the
  conversation (it did before the send read `GET /sessions/{id}/run-setup` instead of the whole session).
- runs beside the bare kickoff: `--probes` more runs, each taking turns with a bare kickoff of the same crew in this
  process (below), for send → `run_completed`. Their send → 202 is printed too, for what it is: a kickoff in this
  process just before a send slowed that send by about 1.5 ms here (its CPU work, the caches it leaves cold),
  which is why the latency figures above come from a pass of their own.
- throughput: `--runs` runs sent by `--senders` concurrent clients; runs/s from the first send to the last
  `run_completed` (read from the events exchange). Measured twice: with the executor's default width (4 runs at
  once), and again after restarting it to take one run at a time. Each is set beside the bare kickoff of the same
  width (echo steps are pure Python, so runs in parallel threads of one process only take turns on the GIL; the
  bare kickoff loses some to that too: compare its 1-thread and 4-thread figures), and the default width also
  beside the 1-thread kickoff, the plain reading of "one executor against bare CrewAI".
- baselines, same machine, same run: bare aio-pika persistent+confirmed publish → consume on a quorum queue; a bare
  `Crew.kickoff()` of the same 2-agent workflow in this process (one thread, and a pool as wide as the executor's).
  For send → `run_completed`, a bare kickoff takes turns with the runs (one before each), so that a change in the
  machine's speed during the run (seen here: ±15 % between runs) falls on the figure and its baseline alike.
- decisions: `--decisions` runs that pause at a checkpoint (2 agents, the first with `hitl`), one at a time; for
  each, the time from POST .../decision to its 200 and to `run_resumed` on the WebSocket that stayed open through
  the pause (the resume goes through RabbitMQ to whichever executor takes it), beside the bare publish→consume.
  `--decisions-only` runs just this section and the bare baseline.
- fan-out (the gateway's half, measured by bench/fanout.py's functions): event publish → WebSocket delivery at
  1,000 events/s to 50 clients. `--no-fanout` skips it.
- idle RSS: the executor's resident memory after the warm-up runs, beside a bare process that imported CrewAI and
  kicked off the same crew once; and the API services' (gateway, workflow, session), beside a bare process that
  imported the libraries they are built on.

The run-path targets are printed last, each figure beside its baseline from this run.

    .venv/bin/python bench/runs.py [--probes 50] [--runs 300] [--senders 8] [--decisions 50] [--decisions-only]
                                   [--no-fanout]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.executor.runtime import crewai_env  # noqa: E402, F401  (CrewAI's switches, before CrewAI)
from shared import dbadmin, migrations  # noqa: E402
from shared.messaging.topology import Topology  # noqa: E402
from tests.support.broker import delete_namespace  # noqa: E402
from tests.support.platform import Platform, make_platform  # noqa: E402

BASE_DB = os.environ.get("ECHO_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/echoai")
AMQP = os.environ.get("ECHO_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
MEMCACHED = os.environ.get("ECHO_MEMCACHED_SERVERS", "127.0.0.1:11211")


def _agent(key: str, role: str, description: str) -> dict[str, Any]:
    return {
        "agent_id": f"agt_{key}",
        "name": role,
        "role": role,
        "goal": f"Act as the {role}",
        "task": {"description": description, "expected_output": "text"},
        "llm": {"provider": "echo", "model": "echo-1"},
    }


DEFINITION: dict[str, Any] = {
    "name": "bench: research then write",
    "execution_model": "sequential",
    "agents": [_agent("r", "Researcher", "Research {message}"), _agent("w", "Writer", "Write about {message}")],
}


REVIEWED: dict[str, Any] = {
    "name": "bench: review then write",
    "execution_model": "sequential",
    "agents": [
        {**_agent("r", "Researcher", "Research {message}"), "hitl": {"mode": "approval"}},
        _agent("w", "Writer", "Write about {message}"),
    ],
}


PAUSE = 0.05  # seconds between a probe and the bare kickoff that takes turns with it


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def line(name: str, ms: list[float]) -> str:
    return f"  {name:<46} n={len(ms):>5}  p50={pct(ms, 50):8.2f} ms  p99={pct(ms, 99):8.2f} ms"


# --- the platform ---------------------------------------------------------------------------------------------
async def login(http: httpx.AsyncClient) -> dict[str, str]:
    email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench password 1"
    (await http.post("/auth/register", json={"email": email, "password": password})).raise_for_status()
    r = await http.post("/auth/login", json={"email": email, "password": password})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def floor_probes(http: httpx.AsyncClient, headers: dict[str, str], n: int) -> list[float]:
    """What any request that reaches a service's database costs on this machine, from the same client and as idle
    as a send: a GET of a run that does not exist goes client → gateway → executor → one query and back (404).
    A send takes that path too, then publishes its request and writes its row."""
    out: list[float] = []
    for _ in range(n):
        await asyncio.sleep(PAUSE)
        started = time.perf_counter()
        r = await http.get(f"/executions/{uuid.uuid4()}", headers=headers)
        out.append((time.perf_counter() - started) * 1000)
        if r.status_code != 404:
            raise RuntimeError(f"the floor probe expected 404, got {r.status_code}: {r.text[:200]}")
    return out


async def one_run(
    platform: Platform,
    http: httpx.AsyncClient,
    headers: dict[str, str],
    workflow_id: str,
    message: str,
    session_id: str | None = None,
) -> dict[str, float]:
    """One send, followed on a WebSocket opened right after its 202 until `run_completed`: milliseconds from the
    send to its 202 (`send`), to `run_started` on the socket (`ws`) and in the executor's stamp (`stamp`), and to
    `run_completed` (`run`)."""
    token = headers["Authorization"].removeprefix("Bearer ")
    out: dict[str, float] = {}
    wall, started = time.time(), time.perf_counter()
    body = {"workflow_id": workflow_id, "message": message, **({"session_id": session_id} if session_id else {})}
    r = await http.post("/workflows/chat/send", json=body, headers=headers)
    r.raise_for_status()
    out["send"] = (time.perf_counter() - started) * 1000
    url = f"{platform.ws_url}/ws/execution/{r.json()['run_id']}?token={token}&after_seq=0"
    async with asyncio.timeout(30), connect(url, proxy=None) as ws:
        async for raw in ws:
            event = json.loads(raw)
            if event["type"] == "run_started":
                out["ws"] = (time.perf_counter() - started) * 1000
                out["stamp"] = (datetime.fromisoformat(event["ts"]).timestamp() - wall) * 1000
            if event["type"] == "run_completed":
                out["run"] = (time.perf_counter() - started) * 1000
                break
    return out


async def quiet_probes(
    platform: Platform, http: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, n: int
) -> dict[str, list[float]]:
    """Sends one at a time on an idle platform, each followed by a floor probe under the same conditions: send →
    202, → `run_started` on a WebSocket opened right after the 202 (and the executor's stamp on it); the run is
    waited out, then a pause, then one floor probe (see `floor_probes`), then a pause before the next send."""
    out: dict[str, list[float]] = {"send": [], "ws": [], "stamp": [], "floor": []}
    for i in range(n):
        await asyncio.sleep(PAUSE)
        run = await one_run(platform, http, headers, workflow_id, f"quiet {i}")
        for key in ("send", "ws", "stamp"):
            out[key].append(run[key])
        out["floor"].extend(await floor_probes(http, headers, 1))
    return out


async def session_of(http: httpx.AsyncClient, headers: dict[str, str], messages: int) -> str:
    """A chat session already holding `messages` messages (appended 8 at a time through the gateway)."""
    r = await http.post("/sessions", json={"title": f"bench {messages}"}, headers=headers)
    r.raise_for_status()
    sid = str(r.json()["session_id"])
    path = f"/sessions/{sid}/messages"

    async def append(first: int) -> None:
        for i in range(first, messages, 8):
            role = "user" if i % 2 == 0 else "assistant"
            (
                await http.post(path, json={"role": role, "content": f"turn {i} " * 20}, headers=headers)
            ).raise_for_status()

    await asyncio.gather(*(append(k) for k in range(8)))
    return sid


async def session_probes(
    platform: Platform, http: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, n: int
) -> dict[int, list[float]]:
    """Sends into a chat session, as a chat client makes them: taking turns between a session of 10 messages and
    one of 1,000, each run waited out. A send with a session reads what the run uses from the session (variables,
    selected tools, tool configs), adds the user's message and lists the run there: none of it may grow with the
    conversation."""
    sizes = (10, 1000)
    sessions = {size: await session_of(http, headers, size) for size in sizes}
    out: dict[int, list[float]] = {size: [] for size in sizes}
    for i in range(n):
        for size in sizes:
            await asyncio.sleep(PAUSE)
            run = await one_run(platform, http, headers, workflow_id, f"chat {i}", sessions[size])
            out[size].append(run["send"])
    return out


async def latency_probes(
    platform: Platform,
    http: httpx.AsyncClient,
    headers: dict[str, str],
    workflow_id: str,
    n: int,
    *,
    interleave: bool = False,
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"send": [], "ws": [], "stamp": [], "run": [], "bare": []}
    for i in range(n):
        if interleave:
            # The baseline takes turns with the probes, so a change in the machine's speed falls on both alike; a
            # pause after each lets what either leaves running in the background (CrewAI's event handlers, the
            # services' acks and unlocks) finish before the other is timed.
            await asyncio.sleep(PAUSE)
            out["bare"].append(await asyncio.to_thread(bare_kickoff, i))
            await asyncio.sleep(PAUSE)
        run = await one_run(platform, http, headers, workflow_id, f"probe {i}")
        for key, value in run.items():
            out[key].append(value)
    return out


async def decision_probes(
    platform: Platform, http: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, n: int
) -> dict[str, list[float]]:
    """Runs that pause, one at a time: decision → its 200, and → `run_resumed` on the socket open since the send."""
    token = headers["Authorization"].removeprefix("Bearer ")
    out: dict[str, list[float]] = {"answer": [], "resumed": []}
    for i in range(n):
        r = await http.post(
            "/workflows/chat/send", json={"workflow_id": workflow_id, "message": f"decide {i}"}, headers=headers
        )
        r.raise_for_status()
        run_id = r.json()["run_id"]
        url = f"{platform.ws_url}/ws/execution/{run_id}?token={token}&after_seq=0"
        started = 0.0
        async with asyncio.timeout(60), connect(url, proxy=None) as ws:
            async for raw in ws:
                event = json.loads(raw)
                if event["type"] == "run_paused":
                    path = f"/executions/{run_id}/checkpoints/{event['data']['checkpoint_id']}/decision"
                    started = time.perf_counter()
                    answer = await http.post(path, json={"action": "approve"}, headers=headers)
                    answer.raise_for_status()
                    out["answer"].append((time.perf_counter() - started) * 1000)
                elif event["type"] == "run_resumed":
                    out["resumed"].append((time.perf_counter() - started) * 1000)
    return out


async def throughput(
    http: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, namespace: str, runs: int, senders: int
) -> dict[str, float]:
    """Runs sent by `senders` clients; completion read from the events exchange (a tap of this process)."""
    completed: dict[str, float] = {}
    all_done = asyncio.Event()
    conn = await aio_pika.connect(AMQP)
    try:
        channel = await conn.channel()
        exchange = await channel.declare_exchange(
            Topology(namespace).events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, "run.*.run_completed")
        await queue.bind(exchange, "run.*.run_failed")

        sent: set[str] = set()

        async def on_event(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            completed[json.loads(message.body)["run_id"]] = time.perf_counter()
            if len(sent) == runs and sent <= completed.keys():
                all_done.set()

        await queue.consume(on_event, no_ack=True)
        send_ms: list[float] = []
        counter = iter(range(runs))

        async def sender() -> None:
            for i in counter:
                t = time.perf_counter()
                r = await http.post(
                    "/workflows/chat/send", json={"workflow_id": workflow_id, "message": f"load {i}"}, headers=headers
                )
                r.raise_for_status()
                send_ms.append((time.perf_counter() - t) * 1000)
                sent.add(r.json()["run_id"])

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        sent_all = time.perf_counter()
        if sent <= completed.keys():
            all_done.set()
        await asyncio.wait_for(all_done.wait(), 300)
        finished = max(completed[r] for r in sent)
    finally:
        await conn.close()
    print(line(f"send under load ({senders} concurrent clients)", send_ms))
    return {
        "runs_per_s": runs / (finished - started),
        "sends_per_s": runs / (sent_all - started),
        "seconds": finished - started,
    }


def restart_executor(platform: Platform, env: dict[str, str]) -> None:
    platform.stop("executor")
    platform.start("executor", extra_env=env)
    platform.wait_healthy("executor")


# --- baselines ------------------------------------------------------------------------------------------------
async def bare_amqp(n: int) -> list[float]:
    """Persistent, confirmed publish → consume on a quorum queue (what a run request goes through), one at a time."""
    name = f"bench.bare.{secrets.token_hex(4)}"
    conn = await aio_pika.connect(AMQP)
    try:
        channel = await conn.channel(publisher_confirms=True)
        queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
        got: asyncio.Queue[float] = asyncio.Queue()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await message.ack()
            got.put_nowait(time.perf_counter())

        tag = await queue.consume(on_message)
        out = []
        for i in range(n):
            started = time.perf_counter()
            body = json.dumps({"i": i, "pad": "x" * 600}).encode()
            msg = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await channel.default_exchange.publish(msg, name)
            out.append((await got.get() - started) * 1000)
        await queue.cancel(tag)
        await channel.queue_delete(name)
        return out
    finally:
        await conn.close()


def bare_kickoff(i: int) -> float:
    """One `Crew.kickoff()` of the same 2-agent workflow (one two-task crew), built from scratch, in this process;
    returns its milliseconds."""
    from crewai import Agent, Crew, Process, Task

    from services.executor.runtime.crew import EchoLLM

    started = time.perf_counter()
    agents = [
        Agent(role=a["role"], goal=a["goal"], backstory=a["role"], llm=EchoLLM(model="echo-1"), verbose=False)
        for a in DEFINITION["agents"]
    ]
    tasks = [
        Task(description=a["task"]["description"].format(message=f"load {i}"), expected_output="text", agent=agent)
        for a, agent in zip(DEFINITION["agents"], agents, strict=True)
    ]
    Crew(agents=agents, tasks=tasks, process=Process.sequential, verbose=False).kickoff()
    return (time.perf_counter() - started) * 1000


def bare_crew(runs: int, threads: int) -> tuple[list[float], float]:
    """`runs` bare kickoffs on `threads` threads: their latencies and runs/s."""
    bare_kickoff(-1)  # warm up
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        latencies = list(pool.map(bare_kickoff, range(runs)))
    return latencies, runs / (time.perf_counter() - started)


# --- fan-out: the gateway's half, from bench/fanout.py ---------------------------------------------------------
async def fanout_section(rate: int = 1000, clients: int = 50, seconds: float = 5.0) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "bench"))
    import fanout  # type: ignore[import-not-found]

    print(f"\n== fan-out: event publish → WebSocket delivery, {rate} events/s to {clients} clients (bench/fanout.py)")
    quiet = await fanout.bare_baseline(rate=rate, seconds=seconds)
    figures: dict[str, float] = await fanout.fanout_latency(
        "spread", rate=rate, clients=clients, seconds=seconds, quiet=quiet
    )
    return figures


# --- memory -----------------------------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1]) / 1024
    return float("nan")


BARE_PROCESS = """
import sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/bench")
from runs import bare_crew, rss_mb
import os
bare_crew(1, 1)
print(rss_mb(os.getpid()))
"""


BARE_API_PROCESS = """
import aio_pika, asyncpg, fastapi, jwt, pymemcache, sqlalchemy.ext.asyncio, uvicorn  # noqa: F401
for row in open("/proc/self/status"):
    if row.startswith("VmRSS:"):
        print(int(row.split()[1]) / 1024)
"""


def bare_api_rss() -> float:
    """A process that imported what the API services are built on (FastAPI, uvicorn, SQLAlchemy with asyncpg,
    aio-pika, pymemcache, PyJWT) and did nothing else."""
    out = subprocess.run(
        [sys.executable, "-c", BARE_API_PROCESS], capture_output=True, text=True, timeout=120, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def bare_process_rss() -> float:
    """A process that imported CrewAI and kicked off the same 2-agent crew: what any CrewAI process holds."""
    out = subprocess.run(
        [sys.executable, "-c", BARE_PROCESS, str(ROOT)], capture_output=True, text=True, timeout=120, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


async def bench(args: argparse.Namespace, platform: Platform, namespace: str) -> None:
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as http:
        headers = await login(http)
        r = await http.post("/workflows", json={"definition": DEFINITION, "save_as": "final"}, headers=headers)
        r.raise_for_status()
        workflow_id = r.json()["workflow_id"]
        await latency_probes(platform, http, headers, workflow_id, 5)  # warm-up: connections, CrewAI, caches
        await asyncio.sleep(1.0)
        idle_rss = rss_mb(platform.procs["executor"].pid)
        api_rss = {name: rss_mb(platform.procs[name].pid) for name in ("gateway", "workflow", "session")}

        r = await http.post("/workflows", json={"definition": REVIEWED, "save_as": "final"}, headers=headers)
        r.raise_for_status()
        reviewed_id = r.json()["workflow_id"]
        await decision_probes(platform, http, headers, reviewed_id, 3)  # warm-up
        print(f"\n== decisions: {args.decisions} runs paused at a checkpoint, approved one at a time")
        decisions = await decision_probes(platform, http, headers, reviewed_id, args.decisions)
        print(line("decision → 200 (recorded, resume published)", decisions["answer"]))
        print(line("decision → run_resumed on the WebSocket", decisions["resumed"]))
        if args.decisions_only:
            amqp = await bare_amqp(args.decisions * 4)
            print("\n== baseline (same machine, same run)")
            print(line("bare aio-pika publish(confirm) → consume", amqp))
            ratio = pct(decisions["resumed"], 50) / pct(amqp, 50)
            print(f"\n  decision→run_resumed p50 / bare publish→consume p50:  x{ratio:.1f}")
            return

        print(
            f"\n== latency: {args.probes} sends one at a time on an idle platform (2-agent sequential, echo), each "
            "run waited out, then a floor probe"
        )
        quiet = await quiet_probes(platform, http, headers, workflow_id, args.probes)
        print(line("send (202, request durably queued)", quiet["send"]))
        print(line("send → run_started on the WebSocket", quiet["ws"]))
        print(line("send → run_started stamped by the executor", quiet["stamp"]))
        print(line("floor: a GET through the gateway, one query", quiet["floor"]))

        print(f"\n== sends into a chat session: {args.probes} each, taking turns between a short and a long one")
        chat = await session_probes(platform, http, headers, workflow_id, args.probes)
        print(line("send (202), session of 10 messages", chat[10]))
        print(line("send (202), session of 1,000 messages", chat[1000]))
        print(f"  1,000 messages / 10 messages, p50: x{pct(chat[1000], 50) / pct(chat[10], 50):.2f}")

        await asyncio.to_thread(bare_kickoff, -1)  # CrewAI imported and warm in this process before it counts
        print(
            f"\n== runs beside the bare kickoff: {args.probes} runs one at a time, each after a bare kickoff of the "
            "same crew in this process"
        )
        probes = await latency_probes(platform, http, headers, workflow_id, args.probes, interleave=True)
        print(line("send → run_completed on the WebSocket", probes["run"]))
        print(line("bare Crew.kickoff(), taking turns with the runs", probes["bare"]))
        print(line("(send (202) right after a bare kickoff)", probes["send"]))
        floor = quiet["floor"]

        width = int(os.environ.get("ECHO_EXECUTOR_CONCURRENCY", "4"))
        print(f"\n== throughput: {args.runs} runs, one executor taking {width} runs at once (its default)")
        load = await throughput(http, headers, workflow_id, namespace, args.runs, args.senders)
        print(
            f"  executor: {load['runs_per_s']:.1f} runs/s ({args.runs} runs in {load['seconds']:.1f} s; "
            f"sends accepted at {load['sends_per_s']:.1f}/s)"
        )
        # The same executor taking one run at a time: the width of the 1-thread bare baseline.
        await asyncio.to_thread(restart_executor, platform, {"ECHO_EXECUTOR_CONCURRENCY": "1"})
        await latency_probes(platform, http, headers, workflow_id, 3)  # warm-up after the restart
        print(f"\n== throughput: {args.runs} runs, one executor taking 1 run at a time")
        single = await throughput(http, headers, workflow_id, namespace, args.runs, args.senders)
        print(
            f"  executor: {single['runs_per_s']:.1f} runs/s ({args.runs} runs in {single['seconds']:.1f} s; "
            f"sends accepted at {single['sends_per_s']:.1f}/s)"
        )

    print("\n== baselines (same machine, same run)")
    amqp = await bare_amqp(args.probes * 4)
    print(line("bare aio-pika publish(confirm) → consume", amqp))
    crew_1, crew_1_rps = await asyncio.to_thread(bare_crew, args.crew_runs, 1)
    print(line("bare Crew.kickoff(), 1 thread", crew_1) + f"  {crew_1_rps:.1f} runs/s")
    crew_n, crew_n_rps = await asyncio.to_thread(bare_crew, args.crew_runs, width)
    print(line(f"bare Crew.kickoff(), {width} threads", crew_n) + f"  {crew_n_rps:.1f} runs/s")

    print("\n== ratios")
    print(f"  send→run_started (WS) p50 / bare publish→consume p50:  x{pct(quiet['ws'], 50) / pct(amqp, 50):.1f}")
    print(f"  send→run_started (WS) p99 / bare publish→consume p99:  x{pct(quiet['ws'], 99) / pct(amqp, 99):.1f}")
    print(
        f"  decision→run_resumed p50 / bare publish→consume p50: x{pct(decisions['resumed'], 50) / pct(amqp, 50):.1f}"
    )
    print(
        f"  decision→run_resumed p99 / bare publish→consume p99: x{pct(decisions['resumed'], 99) / pct(amqp, 99):.1f}"
    )
    print(f"  send→202 p50 / floor (one query through the gateway) p50: x{pct(quiet['send'], 50) / pct(floor, 50):.2f}")
    in_turns = pct(probes["run"], 50) / pct(probes["bare"], 50)
    print(f"  send→run_completed p50 / bare kickoff p50 (turns):     x{in_turns:.2f}")
    print(f"  send→run_completed p50 / bare kickoff p50 (1 thread):  x{pct(probes['run'], 50) / pct(crew_1, 50):.2f}")
    for label, rps, bare in (
        ("executor (1 at a time) / bare kickoff (1 thread)", single["runs_per_s"], crew_1_rps),
        (f"executor ({width} at once) / bare kickoff ({width} threads)", load["runs_per_s"], crew_n_rps),
        (f"executor ({width} at once) / bare kickoff (1 thread)", load["runs_per_s"], crew_1_rps),
    ):
        print(f"  runs/s, {label + ':':<56} {rps / bare:.2f}")

    fan = await fanout_section() if args.fanout else None
    bare_rss = await asyncio.to_thread(bare_process_rss)
    bare_api = await asyncio.to_thread(bare_api_rss)
    print("\n== idle RSS after the warm-up runs")
    for name, mb in {**api_rss, "executor": idle_rss}.items():
        print(f"  {name:<10} {mb:6.0f} MB")
    print(
        f"  (bare: the API services' libraries imported {bare_api:.0f} MB; CrewAI after one kickoff {bare_rss:.0f} MB)"
    )

    amqp_50, crew_50 = pct(amqp, 50), pct(probes["bare"], 50)
    rows: list[tuple[str, str, str, str, str]] = [
        (
            "send → run_completed p50",
            f"{pct(probes['run'], 50):.1f} ms",
            f"bare kickoff, in turns {crew_50:.1f} ms",
            f"x{pct(probes['run'], 50) / crew_50:.2f}",
            "≤ x1.5",
        ),
        (
            "runs/s, one executor, 1 run at a time",
            f"{single['runs_per_s']:.1f}/s",
            f"bare kickoff, 1 thread {crew_1_rps:.1f}/s",
            f"{single['runs_per_s'] / crew_1_rps:.2f}",
            "≥ 0.75",
        ),
        (
            f"runs/s, one executor, {width} at once (default)",
            f"{load['runs_per_s']:.1f}/s",
            f"bare kickoff, {width} threads {crew_n_rps:.1f}/s",
            f"{load['runs_per_s'] / crew_n_rps:.2f}",
            "≥ 0.75",
        ),
        (
            f"runs/s, one executor, {width} at once (default)",
            f"{load['runs_per_s']:.1f}/s",
            f"bare kickoff, 1 thread {crew_1_rps:.1f}/s",
            f"{load['runs_per_s'] / crew_1_rps:.2f}",
            "≥ 0.75",
        ),
        (
            "send → 202 p50",
            f"{pct(quiet['send'], 50):.1f} ms",
            f"bare confirmed publish {amqp_50:.1f} ms",
            f"x{pct(quiet['send'], 50) / amqp_50:.1f}",
            "≤ 10 ms",
        ),
        (
            "send → run_started (WS) p50",
            f"{pct(quiet['ws'], 50):.1f} ms",
            f"bare publish→consume {amqp_50:.1f} ms",
            f"x{pct(quiet['ws'], 50) / amqp_50:.1f}",
            "≤ 20 ms",
        ),
    ]
    if fan is not None:
        rows.append(
            (
                "fan-out publish → WS p99, 1,000/s, 50 clients",
                f"{fan['gw_p99']:.1f} ms",
                f"bare aio-pika {fan['base_p99']:.1f} ms",
                f"{fan['gw_p99'] - fan['base_p99']:+.1f} ms",
                "≤ +10 ms",
            )
        )
    largest = max(api_rss, key=lambda name: api_rss[name])
    rows.append((f"API services idle RSS (largest: {largest})", f"{api_rss[largest]:.0f} MB",
                 f"bare libraries imported {bare_api:.0f} MB", f"x{api_rss[largest] / bare_api:.2f}",
                 "≤ 120 MB"))  # fmt: skip
    rows.append(("executor idle RSS", f"{idle_rss:.0f} MB", f"bare CrewAI process {bare_rss:.0f} MB",
                 f"x{idle_rss / bare_rss:.2f}", "≤ 250 MB"))  # fmt: skip
    print("\n== run-path targets (each beside its baseline from this run)")
    print(f"  {'figure':<46} {'EchoAI':>10}  {'baseline':<32} {'ratio':>8}  target")
    for figure, value, baseline, shown, target in rows:
        print(f"  {figure:<46} {value:>10}  {baseline:<32} {shown:>8}  {target}")
    print(
        f"  (send → 202 beside the floor of this machine, a GET through the gateway that makes one query: "
        f"{pct(quiet['send'], 50):.1f} vs {pct(floor, 50):.1f} ms, x{pct(quiet['send'], 50) / pct(floor, 50):.2f})"
    )
    load_1, load_5, _ = os.getloadavg()
    print(f"  (load average at the end: {load_1:.2f} / {load_5:.2f}; {os.cpu_count()} CPUs)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--crew-runs", type=int, default=100)
    parser.add_argument("--decisions", type=int, default=50)
    parser.add_argument("--decisions-only", action="store_true")
    parser.add_argument("--no-fanout", dest="fanout", action="store_false")
    args = parser.parse_args()

    started = time.monotonic()
    secret = os.environ.setdefault("ECHO_JWT_SECRET", secrets.token_urlsafe(32))
    url = BASE_DB.rsplit("/", 1)[0] + f"/echoai_bench_{uuid.uuid4().hex[:8]}"
    namespace = f"echobench.{uuid.uuid4().hex[:8]}"
    log_dir = Path(tempfile.mkdtemp(prefix="echoai-bench-runs-"))
    asyncio.run(dbadmin.ensure_database(url))
    platform: Platform | None = None
    try:
        for service in migrations.SERVICES:
            migrations.upgrade(service, "head", url)
        platform = make_platform(
            url,
            AMQP,
            MEMCACHED,
            log_dir,
            ECHO_BROKER_NAMESPACE=namespace,
            ECHO_JWT_SECRET=secret,
            ECHO_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        )
        platform.start_all()
        print(f"EchoAI runs bench: {os.cpu_count()} CPUs, loopback; services up in {time.monotonic() - started:.0f}s")
        asyncio.run(bench(args, platform, namespace))
    finally:
        if platform is not None:
            platform.stop_all()
        asyncio.run(dbadmin.drop_database(url))
        delete_namespace(AMQP, namespace)
    print(f"\ndone in {time.monotonic() - started:.0f}s (logs in {log_dir})")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
