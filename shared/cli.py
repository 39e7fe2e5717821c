"""`python -m services.<svc> serve|migrate ...`, shared by every service."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from shared import migrations
from shared.settings import get_settings

ExtraCommand = tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def main(service: str, argv: Sequence[str] | None = None, extra: dict[str, ExtraCommand] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog=f"python -m services.{service}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default=settings.host)
    serve.add_argument("--port", type=int, default=getattr(settings, f"{service}_port"))
    migrate = sub.add_parser("migrate", help="run this service's database migrations")
    migrate.add_argument("action", choices=["upgrade", "downgrade", "current"])
    migrate.add_argument("revision", nargs="?", help="target revision (upgrade: head, downgrade: base)")
    for name, (configure, _) in (extra or {}).items():
        configure(sub.add_parser(name))
    args = parser.parse_args(argv)

    if args.command == "serve":
        import uvicorn

        uvicorn.run(
            f"services.{service}.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            log_config=None,
            access_log=False,
            ws_ping_interval=20,
            # Longer than the clients' keep-alive expiry (httpx: 5 s), so a pooled connection is never
            # reused just as the server closes it (a spurious 502 through the gateway).
            timeout_keep_alive=30,
            # X-Forwarded-For is believed only from the proxies the operator names (uvicorn would trust localhost).
            proxy_headers=bool(settings.forwarded_allow_ips),
            forwarded_allow_ips=settings.forwarded_allow_ips or None,
            # SIGTERM: requests in flight get this long, then the lifespan shutdown runs; together well inside
            # Kubernetes' 30 s grace (the gateway first closes its WebSockets with 1001, at most 5 s).
            timeout_graceful_shutdown=15,
        )
        return 0
    if args.command == "migrate":
        if args.action == "upgrade":
            migrations.upgrade(service, args.revision or "head")
        elif args.action == "downgrade":
            migrations.downgrade(service, args.revision or "base")
        else:
            migrations.current(service)
        return 0
    return (extra or {})[args.command][1](args)
