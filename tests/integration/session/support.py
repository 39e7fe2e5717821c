"""A private Memcached, a TCP link to it that can be cut, apps built with a patched environment, and a
write-then-read workload that checks every read for staleness."""

from __future__ import annotations

import asyncio
import contextlib
import random
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
from pymemcache.client.base import Client

from services.session.app import create_app
from shared.settings import Settings, get_settings
from tests.support.apps import running_app
from tests.support.platform import free_port
from tests.support.servers import port_open

MEMCACHED = "/usr/bin/memcached"


class MemcachedProcess:
    """`memcached` as a child process on a port of its own."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MEMCACHED, "-u", "root", "-l", "127.0.0.1", "-p", str(self.port), "-m", "16"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port, 0.2):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"memcached did not start on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def client(self) -> Client:
        return Client(("127.0.0.1", self.port), connect_timeout=1, timeout=1)

    def stat(self, name: str) -> int:
        client = self.client()
        try:
            return int(client.stats()[name.encode()])
        finally:
            client.close()


class CuttableLink:
    """A TCP forwarder to Memcached: `cut()` drops every connection and refuses new ones while Memcached itself
    keeps running with everything it holds, like a network partition; `heal()` lets connections through again."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def heal(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            # shutdown() is what stops a listening socket and wakes the thread blocked in accept().
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()


@contextlib.asynccontextmanager
async def app_with_env(**env: str) -> AsyncIterator[httpx.AsyncClient]:
    """The session app with some settings changed (`ECHO_*` names, values as the environment would give them)."""
    overrides = {k.removeprefix("ECHO_").lower(): v for k, v in env.items()}
    settings = Settings.model_validate({**get_settings().model_dump(), **overrides})
    async with running_app(lambda: create_app(settings)) as client:
        yield client


@dataclass
class Workload:
    """One writer doing write-then-read cycles on one session, with readers running alongside.

    Every read is checked against the writes completed before it was sent: the writer's own read must show its
    write exactly, and a concurrent reader must never see a state older than the last write completed before
    its request started.
    """

    client: httpx.AsyncClient
    headers: dict[str, str]
    session_id: str
    count: int = 0  # messages written (and completed)
    n: int = 0  # the `n` variable as last written (and completed)
    reads: int = 0
    failures: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _request(self, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        r = await self.client.request(method, path, headers=self.headers, **kwargs)  # type: ignore[arg-type]
        if r.status_code >= 300:
            self.failures.append(f"{method} {path} -> {r.status_code} {r.text[:200]}")
            return None
        return r

    async def cycle(self, i: int) -> None:
        base = f"/sessions/{self.session_id}"
        if i % 3 == 2:
            if await self._request("PATCH", f"{base}/variables", json={"n": i}):
                self.n = i
        elif await self._request("POST", f"{base}/messages", json={"role": "user", "content": f"m{i}"}):
            self.count += 1
        r = await self._request("GET", base)
        if r is not None:
            self.reads += 1
            got = r.json()
            if got["message_count"] != self.count or got["variables"].get("n", 0) != self.n:
                self.stale.append(
                    f"cycle {i}: read {got['message_count']}/{got['variables']} after {self.count}/{self.n}"
                )
        r = await self._request("GET", f"{base}/messages", params={"after_seq": max(self.count - 1, 0)})
        if r is not None and self.count:
            self.reads += 1
            items = r.json()["items"]
            if not items or items[-1]["seq"] != self.count:
                self.stale.append(f"cycle {i}: page ends at {items[-1]['seq'] if items else None}, wrote {self.count}")

    async def reader(self, seed: int) -> None:
        rng = random.Random(seed)
        base = f"/sessions/{self.session_id}"
        while not self._stop.is_set():
            floor_count, floor_n = self.count, self.n
            if rng.random() < 0.6:
                r = await self._request("GET", base)
                if r is not None:
                    got = r.json()
                    if got["message_count"] < floor_count or got["variables"].get("n", 0) < floor_n:
                        self.stale.append(
                            f"reader: {got['message_count']}/{got['variables']} < {floor_count}/{floor_n}"
                        )
            else:
                after = rng.randint(max(floor_count - 3, 0), floor_count)
                r = await self._request("GET", f"{base}/messages", params={"after_seq": after})
                if r is not None and r.json()["last_seq"] < floor_count:
                    self.stale.append(f"reader: page last_seq {r.json()['last_seq']} < {floor_count}")
            if r is not None:
                self.reads += 1
            # Random pauses vary the interleavings and leave the writer its share of the event loop.
            await asyncio.sleep(rng.uniform(0, 0.004))

    @contextlib.asynccontextmanager
    async def readers(self, how_many: int) -> AsyncIterator[None]:
        self._stop.clear()
        tasks = [asyncio.create_task(self.reader(seed)) for seed in range(how_many)]
        try:
            yield
        finally:
            self._stop.set()
            await asyncio.gather(*tasks)
