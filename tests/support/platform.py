"""All four services as real processes on free ports, wired together like `make run` does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("workflow", "session", "executor", "gateway")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Platform:
    env: dict[str, str]
    ports: dict[str, int]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ports['gateway']}"

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str, extra_env: dict[str, str] | None = None, port: int | None = None) -> None:
        env = {**self.env, **(extra_env or {})}
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the process' life
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}", "serve", "--port", str(port or self.ports[name])],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.service_url(name)}/health/broker"
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not become healthy in {timeout}s; see {self.log_dir / (name + '.log')}")

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def start_all(self) -> None:
        for name in SERVICES:
            self.start(name)
        for name in SERVICES:
            self.wait_healthy(name)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def make_platform(database_url: str, amqp_url: str, memcached: str, log_dir: Path, **extra: str) -> Platform:
    ports = {name: free_port() for name in SERVICES}
    env = {
        **os.environ,
        "ECHO_DATABASE_URL": database_url,
        "ECHO_AMQP_URL": amqp_url,
        "ECHO_MEMCACHED_SERVERS": memcached,
        "ECHO_WORKFLOW_FS_ROOT": str(log_dir / "workflows"),
        "ECHO_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **{f"ECHO_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        **extra,
    }
    return Platform(env=env, ports=ports, log_dir=log_dir)
