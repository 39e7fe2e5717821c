"""`make run`: all four services in the foreground; Ctrl-C (or one service dying) stops them all."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVICES = ("workflow", "session", "executor", "gateway")
ROOT = Path(__file__).resolve().parent.parent


def _dev_secret() -> str:
    """One key for the whole local platform, kept in var/ so tokens survive a restart."""
    path = ROOT / "var" / "dev-jwt-secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def main() -> int:
    env = dict(os.environ)
    if not env.get("ECHO_JWT_SECRET") and env.get("ECHO_JWT_ALGORITHM", "HS256") == "HS256":
        env["ECHO_JWT_SECRET"] = _dev_secret()
        print("ECHO_JWT_SECRET is not set: using the development key in var/dev-jwt-secret.", file=sys.stderr)
    procs = {
        name: subprocess.Popen([sys.executable, "-m", f"services.{name}", "serve"], cwd=ROOT, env=env)
        for name in SERVICES
    }
    port = env.get("ECHO_GATEWAY_PORT", "8000")
    print(f"EchoAI is starting: the gateway listens on http://127.0.0.1:{port} (API docs at /docs). Ctrl-C stops it.")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"{name} exited with code {proc.returncode}; stopping the others.", file=sys.stderr)
                code, stopping = 1, True
                break
        time.sleep(0.3)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
