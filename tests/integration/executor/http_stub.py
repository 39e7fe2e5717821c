"""A real HTTP server on 127.0.0.1 (a thread), answering with a function of the request, recording each one."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


@dataclass
class Stub:
    url: str
    seen: list[Seen] = field(default_factory=list)


Answer = Callable[[Seen], tuple[int, Any]]


@contextlib.contextmanager
def http_stub(answer: Answer) -> Iterator[Stub]:
    stub = Stub(url="")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            parsed = urlparse(self.path)
            seen = Seen(
                self.command,
                parsed.path,
                parse_qs(parsed.query),
                json.loads(raw) if raw else None,
                {k.lower(): v for k, v in self.headers.items()},
            )
            stub.seen.append(seen)
            status, body = answer(seen)
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
