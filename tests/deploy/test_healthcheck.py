"""tools.healthcheck, which the images, compose and the readiness probes run, against a real HTTP server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools import healthcheck


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/health": 200, "/health/db": 200, "/health/broker": 503}.get(self.path, 404)
        body = b'{"status": "ok"}' if status == 200 else b'{"status": "down", "detail": "RabbitMQ is away."}'
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_all_paths_answer_200(port: int) -> None:
    assert healthcheck.main(["--port", str(port), "/health", "/health/db"]) == 0


def test_the_default_path_is_health(port: int) -> None:
    assert healthcheck.main(["--port", str(port)]) == 0


def test_one_failing_path_fails_the_check_and_says_why(port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main(["--port", str(port), "/health/db", "/health/broker"]) == 1
    err = capsys.readouterr().err
    assert "/health/broker: HTTP 503" in err and "RabbitMQ is away." in err
    assert "/health/db" not in err


def test_nothing_listening_fails_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main(["--port", str(free_port()), "/health"]) == 1
    assert "/health" in capsys.readouterr().err
