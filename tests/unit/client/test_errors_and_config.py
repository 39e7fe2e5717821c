"""Errors carry the API's code and detail; credentials are private; definitions load from dicts and files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from echoai_client import calls, config
from echoai_client.errors import Conflict, EchoAPIError, NotFound, RateLimited, Unavailable, api_error


def test_api_errors_by_status() -> None:
    exc = api_error(404, {"error": "workflow_not_found", "detail": "No such workflow."})
    assert isinstance(exc, NotFound) and (exc.status, exc.error, exc.detail) == (
        404,
        "workflow_not_found",
        "No such workflow.",
    )
    assert isinstance(api_error(409, {"error": "taken", "detail": "x"}), Conflict)
    assert isinstance(api_error(503, {"error": "broker_unavailable", "detail": "x"}), Unavailable)
    limited = api_error(429, {"error": "too_many", "detail": "wait"}, {"retry-after": "30"})
    assert isinstance(limited, RateLimited) and limited.retry_after == 30.0
    odd = api_error(418, "<html>teapot</html>")
    assert type(odd) is EchoAPIError and odd.error == "http_418" and "teapot" in odd.detail
    assert api_error(422, {"detail": [{"loc": ["body"]}]}).error == "http_422"


def test_credentials_are_private_and_per_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "deep" / "credentials.json"
    monkeypatch.setenv("ECHOAI_CREDENTIALS", str(path))
    monkeypatch.delenv("ECHOAI_TOKEN", raising=False)
    config.save_token("http://a", "token-a", "a@example.com")
    config.save_token("http://b", "token-b")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.resolve_token("http://a") == "token-a" and config.resolve_token("http://c") is None
    monkeypatch.setenv("ECHOAI_TOKEN", "from-env")
    assert config.resolve_token("http://a") == "from-env" and config.resolve_token("http://a", "explicit") == "explicit"
    config.forget_token("http://a")
    assert config.saved_token("http://a") is None and config.saved_token("http://b") == "token-b"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("not json")
    assert config.saved_token("http://b") is None


def test_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECHOAI_URL", raising=False)
    assert config.base_url() == "http://127.0.0.1:8000"
    monkeypatch.setenv("ECHOAI_URL", "http://gw:9000/")
    assert config.base_url() == "http://gw:9000" and config.base_url("http://x") == "http://x"


def test_load_definition(tmp_path: Path) -> None:
    plain = {"name": "W", "agents": []}
    assert calls.load_definition(plain) == plain
    assert calls.load_definition({"definition": plain, "save_as": "final"}) == plain
    file = tmp_path / "w.json"
    file.write_text(json.dumps(plain))
    assert calls.load_definition(file) == plain
    file.write_text("[1]")
    with pytest.raises(ValueError, match="JSON object"):
        calls.load_definition(str(file))


def test_calls_build_queries_without_unset_values() -> None:
    call = calls.list_tools(["a", "b"], None, 10, None)
    assert (call.method, call.path, call.params) == ("GET", "/tools", (("tag", "a"), ("tag", "b"), ("limit", "10")))
    send = calls.send("w", "hi", None, None)
    assert send.body == {"workflow_id": "w", "message": "hi"}
    assert not calls.login("e", "p").auth
