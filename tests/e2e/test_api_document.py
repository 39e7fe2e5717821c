"""The gateway's `/openapi.json` is the whole public API: every path the gateway routes is in it, every path in it
is routed, and the services answer what it says (schemathesis over the merged document)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import register_and_login
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

METHODS = ("get", "post", "put", "patch", "delete")
BAD_TOKEN = {"Authorization": "Bearer not-a-token"}
UPSTREAMS = ("workflow", "session", "executor")


def concrete(path: str, operation: dict[str, Any]) -> str:
    """The path with each parameter filled in with a value of its type."""
    for param in operation.get("parameters", []):
        if param.get("in") == "path":
            value = "1" if param.get("schema", {}).get("type") == "integer" else str(uuid.uuid4())
            path = path.replace("{" + param["name"] + "}", value)
    assert "{" not in path, path
    return path


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, m, item[m]) for path, item in doc["paths"].items() for m in METHODS if m in item]


@pytest.fixture(scope="module")
def document(gateway: httpx.Client) -> dict[str, Any]:
    r = gateway.get("/openapi.json")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_documented_paths_are_routed(gateway: httpx.Client, document: dict[str, Any]) -> None:
    """Each documented operation, called with a bad token, is answered by whoever owns it: 401 where a token is
    needed (the service checked it, so the proxy forwarded it), never the 404/405 of a path nobody serves."""
    ops = operations(document)
    assert len(ops) > 40
    for path, method, operation in ops:
        r = gateway.request(method.upper(), concrete(path, operation), headers=BAD_TOKEN, json={})
        if operation.get("security"):
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.json()["error"] == "invalid_token", (method, path, r.text)
        else:
            assert r.status_code not in (404, 405), (method, path, r.status_code, r.text)
    secured = {(p, m) for p, m, op in ops if op.get("security")}
    public = {(p, m) for p, m, op in ops if not op.get("security")}
    assert {p for p, _ in public} <= {"/auth/login", "/auth/register", "/health/services"} | {
        p for p, _ in public if p.startswith("/health")
    }
    assert ("/workflows/chat/send", "post") in secured and ("/sessions/{session_id}", "get") in secured
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_every_routed_service_path_is_documented(
    platform: Platform, gateway: httpx.Client, document: dict[str, Any]
) -> None:
    """Over every operation the services document on their own ports: forwarded by the gateway (a 401 from the
    service) exactly when it is in the gateway's document; the others (health, metrics) never reach a service."""
    documented = {(p, m) for p, m, _ in operations(document)}
    seen = 0
    for name in UPSTREAMS:
        own = httpx.get(f"{platform.service_url(name)}/openapi.json", timeout=10).json()
        assert "Error" in own["components"]["schemas"] and "HTTPValidationError" not in own["components"]["schemas"]
        for path, method, operation in operations(own):
            seen += 1
            r = gateway.request(method.upper(), concrete(path, operation), headers=BAD_TOKEN, json={})
            if (path, method) in documented:
                assert r.status_code != 404 or r.json()["error"] != "not_found", (name, method, path, r.text)
            else:
                assert path.startswith("/health"), f"{name} {method} {path} is neither documented nor health"
                assert r.status_code != 401, (name, method, path, r.text)  # the gateway's own health answers
            if operation.get("security"):
                assert (path, method) in documented, f"{name} {method} {path} needs a token but is not public"
                assert r.status_code == 401, (name, method, path, r.status_code, r.text)
                schema = document["paths"][path][method]["responses"]
                assert schema == _rewritten(operation["responses"], document, name), (name, method, path)
    assert seen > 40


def _rewritten(responses: dict[str, Any], document: dict[str, Any], service: str) -> dict[str, Any]:
    """A service's responses as the merged document writes them (its clashing component names prefixed)."""
    text = json.dumps(responses)
    for name in document["components"]["schemas"]:
        if name.startswith(f"{service}_"):
            plain = name.removeprefix(f"{service}_")
            text = text.replace(f'"#/components/schemas/{plain}"', f'"#/components/schemas/{name}"')
    return dict(json.loads(text))


def test_docs_page_renders_the_merged_document(gateway: httpx.Client) -> None:
    r = gateway.get("/docs")
    assert r.status_code == 200 and "/openapi.json" in r.text


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    platform: Platform, gateway: httpx.Client, tmp_path: Path
) -> None:
    """Property-based requests over every documented operation (valid and invalid input), authenticated: no 5xx
    and every answer fits its documented schema. Bounded: a few examples per operation, two workers."""
    headers = register_and_login(gateway, f"schemathesis-{uuid.uuid4().hex[:6]}@example.com")
    report = tmp_path / "report.json"
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "run", f"{platform.url}/openapi.json"),
        *("--checks", "not_a_server_error,response_schema_conformance"),
        *("--header", f"Authorization: {headers['Authorization']}"),
        *("--phases", "examples,coverage,fuzzing", "--max-examples", "3", "--seed", "12"),
        *("--workers", "2", "--request-timeout", "20", "--no-shrink", "--continue-on-failure"),
        *("--report", "json", "--report-json-path", str(report)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False, cwd=tmp_path)
    print(done.stdout[-20000:])
    summary = json.loads(report.read_text()) if report.exists() else {}
    cases = summary.get("test_cases", {})
    print(f"schemathesis: {cases.get('generated')} requests generated, {cases.get('with_failures')} failed")
    assert cases.get("generated", 0) >= 100, summary
    if done.returncode != 0:
        print(_tracebacks(platform.log_dir))
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]


def _tracebacks(log_dir: Path) -> str:
    """The services' logged exceptions (JSON lines), to tell which service a 5xx came from and why."""
    out = []
    for log in sorted(log_dir.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("exc"):
                out.append(f"{log.stem}: {record.get('msg')} -> {str(record['exc']).strip().splitlines()[-1]}")
    return "\n".join(dict.fromkeys(out))
