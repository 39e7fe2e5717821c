"""Generated requests against each service's own OpenAPI document (schemathesis), every service a real process.

For each operation of each document, a few requests that fit the document (with the caller's real ids in the
path, so they get past the 404) and a few that break it. None may be answered with a 5xx, and every 4xx must be
`{error, detail}`, except uvicorn's own 400 to a request its HTTP parser refuses (a generated header value with a
control character, say), and only once the same parser, given the request as it went out, refuses it too. Each
request that fits is also sent once more poisoned: one of its JSON values (or a query parameter) replaced by
something PostgreSQL cannot store or JSON cannot carry (NUL, an unpaired surrogate, NaN, Infinity), which must be
a 422 `invalid_text`/`invalid_number` whatever the operation.

Bounded: `EXAMPLES` per operation and mode, and a total time budget after which the remaining operations are
listed as skipped. The number of requests sent is printed in the test summary.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httptools
import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.e2e.conftest import register_and_login
from tests.support.platform import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXAMPLES = 6
BUDGET_SECONDS = 80.0
SERVICES = ("gateway", "workflow", "session", "executor")


@dataclass
class Tally:
    sent: int = 0
    poisoned: int = 0
    not_http: int = 0
    operations: int = 0
    skipped: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _known_ids(gateway: httpx.Client, headers: dict[str, str]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for path, body, key in [
        ("/workflows", {"save_as": "final", "definition": {"name": "fuzzed"}}, "workflow_id"),
        ("/agents", {"name": "fuzzed"}, "agent_id"),
        ("/tools", {"name": "fuzzed", "tool_type": "custom"}, "tool_id"),
        ("/sessions", {}, "session_id"),
    ]:
        r = gateway.post(path, json=body, headers=headers)
        assert r.status_code == 201, r.text
        ids[key] = r.json()[key]
    ids["version"] = "1"
    return ids


def _error_code(content: bytes) -> str | None:
    try:
        payload = json.loads(content)
    except ValueError:
        return None
    return payload.get("error") if isinstance(payload, dict) else None


# What uvicorn answers, before any application code runs, to bytes that are not an HTTP request.
NOT_HTTP = b"Invalid HTTP request received."


class _Parsed:
    """Callbacks for httptools, which needs a protocol object; nothing is kept."""


def _not_http(request: Any) -> str | None:
    """Why the request as it went out is not HTTP/1.1 that the services' own parser (httptools, under uvicorn)
    accepts, or None. `requests` refuses only line breaks in header values, so a generated value with another
    control character goes out as is, and the parser refuses it before the service could answer."""
    head = f"{request.method} {request.path_url} HTTP/1.1\r\n"
    fields = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    body = request.body or b""
    data = (head + fields + "\r\n").encode("latin-1", "replace") + (body.encode() if isinstance(body, str) else body)
    try:
        httptools.HttpRequestParser(_Parsed()).feed_data(data)
    except httptools.HttpParserError as exc:
        return str(exc)
    return None


def _judge(tally: Tally, case: Any, response: Any) -> None:
    where = f"{case.method} {case.formatted_path}"
    status, content = response.status_code, response.content
    if status >= 500:
        tally.failures.append(f"{status} for {where}: {content[:200]!r}")
    elif status >= 400:
        try:
            payload = json.loads(content)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and set(payload) == {"error", "detail"}:
            return
        if status == 400 and content == NOT_HTTP and _not_http(response.request) is not None:
            tally.not_http += 1  # refused by the HTTP parser: no service code ran
            return
        request = response.request
        tally.failures.append(
            f"{status} without the error shape for {where}: {content[:200]!r} "
            f"(sent: {request.method} {request.path_url!r}, headers {dict(request.headers)!r}, "
            f"body {str(request.body)[:200]!r})"
        )


POISONS: tuple[Any, ...] = ("\x00", "a\udfffb", math.nan, -math.inf)
Path = tuple[str | int, ...]


def _leaves(value: Any) -> list[Path]:
    found: list[Path] = []
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict) and node:
            stack.extend((child, (*path, key)) for key, child in node.items())
        elif isinstance(node, list) and node:
            stack.extend((child, (*path, i)) for i, child in enumerate(node))
        else:
            found.append(path)
    return found


def _replace(value: Any, path: Path, poison: Any) -> Any:
    if not path:
        return poison
    parent = value
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = poison
    return value


def _poisoned(kwargs: dict[str, Any], data: st.DataObject) -> dict[str, Any] | None:
    """The same request with one value poisoned, or None when it carries no JSON body and no query."""
    kwargs = copy.deepcopy(kwargs)
    params: dict[str, Any] = kwargs.get("params") or {}
    if "json" in kwargs:
        body = kwargs.pop("json")
        if isinstance(body, dict) and not body:
            body = {"probe": 1}
        path = data.draw(st.sampled_from(_leaves(body)), label="poisoned value")
        body = _replace(body, path, data.draw(st.sampled_from(POISONS), label="poison"))
        kwargs["data"] = json.dumps(body).encode()  # NaN and escaped surrogates, as a JSON encoder that allows them
        return kwargs
    if params:
        name = data.draw(st.sampled_from(sorted(params)), label="poisoned parameter")
        params[name] = f"{params[name]}\x00" if not isinstance(params[name], list) else ["\x00"]
        kwargs["params"] = params
        return kwargs
    return None


def _fuzz_operation(operation: Any, base_url: str, headers: dict[str, str], ids: dict[str, str], tally: Tally) -> None:
    session = requests.Session()
    path_ids = {name: ids[name] for name in _path_names(operation) if name in ids}
    strategies = [operation.as_strategy(GenerationMode.POSITIVE, path_parameters=path_ids or None)]
    if any(True for _ in operation.iter_parameters()) or operation.body:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    for strategy in strategies:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy, data=st.data())
        def run(case: Any, data: st.DataObject) -> None:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=15)
            tally.sent += 1
            _judge(tally, case, response)
            if case.meta is not None and not case.meta.generation.mode.is_positive:
                return
            poisoned = _poisoned(case.as_transport_kwargs(base_url=base_url, headers=headers), data)
            if poisoned is None:
                return
            answer = session.request(**poisoned, timeout=15)
            tally.sent += 1
            tally.poisoned += 1
            refused = answer.status_code == 422 and _error_code(answer.content) in ("invalid_text", "invalid_number")
            if not refused:
                where = f"{case.method} {case.formatted_path}"
                tally.failures.append(f"poisoned {where} got {answer.status_code}: {answer.content[:200]!r}")

        # An operation with nothing to break (no parameters, no body) has no negative cases.
        with contextlib.suppress(Unsatisfiable):
            run()
    session.close()


def _path_names(operation: Any) -> list[str]:
    return [p.name for p in operation.path_parameters]


def _documents_the_error_shape(document: dict[str, Any]) -> None:
    """Every operation documents its 422 (and every other error) as `Error`, never FastAPI's own shape."""
    assert "HTTPValidationError" not in json.dumps(document)
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if int(code) >= 400}
            assert "422" in errors, (method, path)
            for code, response in errors.items():
                assert response["content"]["application/json"]["schema"] == error, (method, path, code)


def test_no_generated_request_gets_a_5xx(
    platform: Platform, gateway: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = register_and_login(gateway, f"fuzz-{uuid.uuid4().hex[:8]}@example.com")
    ids = _known_ids(gateway, headers)
    tally = Tally()
    started = time.monotonic()
    for service in SERVICES:
        base_url = platform.service_url(service)
        _documents_the_error_shape(httpx.get(f"{base_url}/openapi.json", timeout=15).json())
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=15)
        for result in schema.get_all_operations():
            operation = result.ok()
            label = f"{service}: {operation.method.upper()} {operation.path}"
            if time.monotonic() - started > BUDGET_SECONDS:
                tally.skipped.append(label)
                continue
            tally.operations += 1
            _fuzz_operation(operation, base_url, headers, ids, tally)
    elapsed = time.monotonic() - started
    summary = (
        f"schemathesis: {tally.sent} generated requests ({tally.poisoned} poisoned) over {tally.operations} "
        f"operations of {len(SERVICES)} services in {elapsed:.0f} s; {len(tally.skipped)} operations past the "
        f"time budget; {tally.not_http} refused by the HTTP parser as not HTTP; {len(tally.failures)} failures"
    )
    with capsys.disabled():  # the count belongs in every run's output, not only with -s
        print(f"\n{summary}")
        for label in tally.skipped:
            print(f"  skipped (time budget): {label}")
    assert tally.sent > 0
    assert not tally.failures, "\n".join(tally.failures[:20])
