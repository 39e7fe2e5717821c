"""Container health check: exit 0 when every given health path of the local service answers 200.

    python -m tools.healthcheck --port 8000 /health/db /health/broker

Used by the images' HEALTHCHECK, docker-compose and the Kubernetes readiness probes, which can only ask one
URL each. Standard library only, so it starts fast and needs nothing the service does not already have.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

# Below the probes' own timeouts, and above the 3 s the service gives PostgreSQL to answer.
_TIMEOUT_SECONDS = 3.5


def check(url: str) -> str | None:
    """None when the URL answers 200, otherwise a one-line reason."""
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310 (local http only)
            if response.status == 200:
                return None
            return f"{url}: HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url}: HTTP {exc.code} {exc.read(300).decode('utf-8', 'replace')}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.healthcheck")
    parser.add_argument("--port", type=int, required=True, help="the service's port on 127.0.0.1")
    parser.add_argument("paths", nargs="*", default=["/health"], help="health paths, each must answer 200")
    args = parser.parse_args(argv)
    urls = [f"http://127.0.0.1:{args.port}{path}" for path in args.paths]
    failures = [reason for url in urls if (reason := check(url)) is not None]
    for reason in failures:
        print(reason, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
