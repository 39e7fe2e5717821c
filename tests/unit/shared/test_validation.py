"""The input edge alone: what `shared.validation` refuses and how it names the place, the error boundary, the
classification of database errors, and the error answers written into the OpenAPI document."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, Body, FastAPI, Path
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import exc as sa_exc

from shared.auth import User
from shared.db import DbSession, is_bad_value, is_database_outage
from shared.errors import ErrorBoundary, Unprocessable
from shared.openapi import error_responses
from shared.service import create_service_app
from shared.validation import MAX_DEPTH, InputGuard, PgInt, check_body, check_value, is_json, parse_json


def _refusal(raw: bytes | str) -> tuple[str, str]:
    with pytest.raises(Unprocessable) as caught:
        check_value(parse_json(raw.encode() if isinstance(raw, str) else raw))
    return caught.value.error, caught.value.detail


def _nested(depth: int, leaf: str = "1") -> str:
    return '{"a":' * (depth - 1) + "[" + leaf + "]" + "}" * (depth - 1)


TEXT_CASES = [
    ('{"name": "a\\u0000b"}', "body.name: text holds a NUL character"),
    ('{"definition": {"agents": [{"goal": "\\u0000"}]}}', "body.definition.agents[0].goal: text holds a NUL"),
    ('{"\\u0000": 1}', 'body["\\u0000"]: the key holds a NUL character'),
    ('{"v": {"ok": 1, "\\udfff": 1}}', 'body.v["\\udfff"]: the key holds an unpaired surrogate'),
    ('{"content": "\\udfff"}', "body.content: text holds an unpaired surrogate"),
    ('{"content": "x\\ud800"}', "body.content: text holds an unpaired surrogate"),
    ('["fine", "\\u0000"]', "body[1]: text holds a NUL"),
    ('"\\u0000"', "body: text holds a NUL"),
    ('{"tags": ["a", "b\\u0000"]}', "body.tags[1]: text"),
    ('{"has space": {"x": "\\u0000"}}', 'body["has space"].x: text'),
]


@pytest.mark.parametrize(("raw", "starts"), TEXT_CASES, ids=[c[1][:30] for c in TEXT_CASES])
def test_unstorable_text_is_refused_naming_the_field(raw: str, starts: str) -> None:
    error, detail = _refusal(raw)
    assert error == "invalid_text"
    assert detail.startswith(starts), detail
    json.dumps({"detail": detail}, ensure_ascii=False).encode()  # the answer itself must be valid UTF-8


def test_utf8_encoding_a_surrogate_and_bytes_that_are_not_utf8() -> None:
    assert _refusal(b'{"content": "\xed\xbf\xbf"}') == ("invalid_text", _refusal('{"content": "\\udfff"}')[1])
    error, detail = _refusal(b'{"content": "\xff"}')
    assert error == "invalid_text" and "not valid UTF-8" in detail


NUMBER_CASES = [
    ('{"n": NaN}', "body.n: NaN is not a finite number"),
    ('{"n": Infinity}', "body.n: Infinity is not a finite number"),
    ('{"v": [1, -Infinity]}', "body.v[1]: -Infinity is not a finite number"),
    ('{"definition": {"x": 1e400}}', "body.definition.x: 1e400 is not a finite number"),
    ('{"x": -1.5e999}', "body.x: -1.5e999 is not a finite number"),
    ('{"x": 1' + "0" * 309 + "}", "body.x: 100000000000… (310 characters) is out of range"),
    ('{"x": -1' + "0" * 309 + "}", "body.x: -10000000000… (311 characters) is out of range"),
    ('{"x": ' + "9" * 5000 + "}", "body.x: 999999999999… (5000 characters) is out of range"),
]


@pytest.mark.parametrize(("raw", "starts"), NUMBER_CASES, ids=[c[1][:30] for c in NUMBER_CASES])
def test_non_finite_and_oversized_numbers_are_refused(raw: str, starts: str) -> None:
    error, detail = _refusal(raw)
    assert error == "invalid_number"
    assert detail.startswith(starts), detail


def test_depth_bound_is_inclusive_and_deep_documents_never_recurse() -> None:
    check_value(parse_json(_nested(MAX_DEPTH).encode()))
    for depth in (MAX_DEPTH + 1, 900, 5000, 200_000):
        error, detail = _refusal(_nested(depth))
        assert error == "too_deep", depth
        assert detail.startswith("body"), detail
        assert "more than 64 levels" in detail
    assert _refusal('{"definition": ' + _nested(70) + "}")[1].startswith("body.definition.a.a.a…:")


def test_what_postgresql_can_store_passes() -> None:
    fine = {
        "name": "Émile 🚀 \\u0000 is only a backslash here",
        "n": [0, -1, 1.5, 1e308, 10**308, -(2**1000), 2**64, True, None],
        "nested": json.loads(_nested(MAX_DEPTH - 1)),
        "keys": {"with space": 1, "": 2, "ünï": 3},
    }
    raw = json.dumps(fine, ensure_ascii=False).encode()
    assert parse_json(raw) == fine
    check_value(parse_json(raw))


@pytest.mark.parametrize(
    "raw",
    [c[0] for c in TEXT_CASES + NUMBER_CASES]
    + [_nested(MAX_DEPTH + 1), _nested(900), '{"a": "\\ud83d\\ude80\\udfff"}'],
)
def test_the_guard_shortcut_finds_the_same_problems(raw: str) -> None:
    """`check_body` skips the field-by-field walk when the bytes cannot hide a problem; it must never skip one."""
    expected = _refusal(raw)
    with pytest.raises(Unprocessable) as caught:
        check_body(raw.encode())
    assert (caught.value.error, caught.value.detail) == expected


def test_the_guard_shortcut_on_other_encodings_and_look_alikes() -> None:
    with pytest.raises(Unprocessable) as caught:
        check_body('{"name": "\\u0000"}'.encode("utf-16"))
    assert caught.value.error == "invalid_text"
    # An escaped backslash before "u0000" is six ordinary characters, and a surrogate pair is one character.
    check_body(b'{"name": "\\\\u0000", "emoji": "\\ud83d\\ude80", "raw": "\xf0\x9f\x9a\x80"}')
    check_body(_nested(MAX_DEPTH).encode())


def test_malformed_json_is_left_to_the_route() -> None:
    with pytest.raises(ValueError):
        parse_json(b'{"a": ')


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, True),
        (b"application/json", True),
        (b"application/json; charset=utf-8", True),
        (b"application/merge-patch+json", True),
        (b"text/plain", False),
        (b"application/octet-stream", False),
        (b"multipart/form-data; boundary=x", False),
    ],
)
def test_which_bodies_are_json(content_type: bytes | None, expected: bool) -> None:
    headers = [] if content_type is None else [(b"content-type", content_type)]
    assert is_json(headers) is expected


def test_pg_int_bounds_the_declared_type() -> None:
    adapter = TypeAdapter(PgInt)
    assert adapter.validate_python(2**31 - 1) == 2**31 - 1
    for bad in (2**31, -(2**31) - 1, "2147483648"):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)


def _guarded_app() -> tuple[FastAPI, list[Any]]:
    app = FastAPI()
    router = APIRouter(prefix="/items")  # included, as every service's routes are
    received: list[Any] = []

    @router.post("/{item_id}")
    async def post(item_id: str, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        received.append(body)
        return {"ok": item_id}

    @router.get("/{item_id}/parts/{part}")
    async def get(item_id: str, part: str, tag: str | None = None) -> dict[str, str]:
        return {"ok": part}

    app.include_router(router)
    app.add_middleware(InputGuard)
    return app, received


async def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_guard_names_query_and_path_parameters() -> None:
    app, _ = _guarded_app()
    async with await _client(app) as client:
        r = await client.get("/items/a/parts/b", params={"tag": "x\x00"})
        assert r.status_code == 422
        assert r.json() == {"error": "invalid_text", "detail": r.json()["detail"]}
        assert r.json()["detail"].startswith("query.tag: text holds a NUL")
        r = await client.get("/items/a/parts/b%00c")
        assert r.status_code == 422 and r.json()["detail"].startswith("path.part: text holds a NUL")
        r = await client.get("/items/%00/parts/b")
        assert r.status_code == 422 and r.json()["detail"].startswith("path.item_id: text holds a NUL")
        r = await client.get("/nowhere/%00")
        assert r.status_code == 422 and r.json()["detail"].startswith("path: text holds a NUL")
        r = await client.get("/items/a/parts/b?%00=1")
        assert r.status_code == 422 and r.json()["detail"].startswith("query: the parameter name holds a NUL")
        assert (await client.get("/items/a/parts/b", params={"tag": "ok"})).status_code == 200


async def test_guard_hands_the_body_on_byte_for_byte() -> None:
    app, received = _guarded_app()
    async with await _client(app) as client:
        raw = b'{"text": "\\u00e9\\ud83d\\ude80", "n": 1.0}'
        r = await client.post("/items/a", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 200 and received == [json.loads(raw)]
        r = await client.post("/items/a", content=b'{"n": NaN}', headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["error"] == "invalid_number" and len(received) == 1
        # Malformed JSON still reaches the route, which answers it as it always has.
        r = await client.post("/items/a", content=b'{"n": ', headers={"content-type": "application/json"})
        assert r.status_code == 422 and len(received) == 1
        # A body that is not JSON is not the guard's business.
        r = await client.post("/items/a", content=b"\x00", headers={"content-type": "text/plain"})
        assert r.status_code == 422 and len(received) == 1


def _raise_in(module: str, error: BaseException) -> BaseException:
    """Raise `error` from a frame that belongs to `module`, as the driver would."""
    scope: dict[str, Any] = {"__name__": module, "error": error}
    try:
        exec("raise error", scope)  # a fixed statement, run to get a frame that belongs to that module
    except BaseException as raised:
        return raised
    raise AssertionError("unreachable")


def test_database_outages_are_told_apart_from_other_errors() -> None:
    refused = _raise_in("asyncpg.connect_utils", ConnectionRefusedError(111, "Connect call failed"))
    assert is_database_outage(refused)
    assert is_database_outage(_raise_in("sqlalchemy.pool.base", TimeoutError()))
    assert is_database_outage(sa_exc.TimeoutError("QueuePool limit reached"))
    assert is_database_outage(asyncpg.exceptions.CannotConnectNowError("the database system is starting up"))
    assert is_database_outage(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    assert is_database_outage(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"))
    wrapped = sa_exc.DBAPIError("SELECT 1", None, asyncpg.exceptions.TooManyConnectionsError("too many"))
    assert is_database_outage(wrapped)
    # Not the database: a file write, the cache, a bug.
    assert not is_database_outage(_raise_in("services.workflow.storage", OSError(28, "No space left")))
    assert not is_database_outage(_raise_in("pymemcache.client.base", ConnectionRefusedError(111, "refused")))
    assert not is_database_outage(RuntimeError("boom"))
    assert not is_database_outage(asyncpg.exceptions.UniqueViolationError("duplicate"))


def test_values_postgresql_refuses_are_bad_input() -> None:
    assert is_bad_value(asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape sequence"))
    assert is_bad_value(asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence"))
    assert is_bad_value(asyncpg.exceptions.NumericValueOutOfRangeError("integer out of range"))
    assert is_bad_value(asyncpg.exceptions.StatementTooComplexError("stack depth limit exceeded"))
    client_side = getattr(asyncpg.exceptions, "_base").DataError("invalid input for query argument $1")  # noqa: B009
    assert is_bad_value(sa_exc.DBAPIError("SELECT $1", None, client_side))
    assert not is_bad_value(asyncpg.exceptions.UniqueViolationError("duplicate"))
    assert not is_bad_value(RuntimeError("boom"))


async def test_error_boundary_answers_in_shape_and_keeps_the_exception() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise _raise_in("asyncpg.connect_utils", ConnectionRefusedError(111, "Connect call failed"))

    async def buggy(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async with await _client(ErrorBoundary(broken)) as client:
        r = await client.get("/x")
        assert r.status_code == 503 and r.json()["error"] == "database_unavailable"
        assert set(r.json()) == {"error", "detail"}
    async with await _client(ErrorBoundary(buggy)) as client:
        r = await client.get("/x")
        assert r.status_code == 500 and r.json()["error"] == "internal_error"


def test_openapi_documents_the_error_shape() -> None:
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def get_thing(thing_id: uuid.UUID, user: User, db: DbSession, cursor: str | None = None) -> dict[str, str]:
        return {}

    @router.post("/things", responses=error_responses(409))
    async def post_thing(body: Annotated[dict[str, Any], Body()], user: User) -> dict[str, str]:
        return {}

    @router.get("/open/{n}")
    async def open_thing(n: Annotated[PgInt, Path()]) -> dict[str, str]:
        return {}

    schema = create_service_app("unit", routers=[router]).openapi()
    text = json.dumps(schema)
    assert "HTTPValidationError" not in text and '"ValidationError"' not in text
    assert schema["components"]["schemas"]["Error"]["required"] == ["error", "detail"]
    got = schema["paths"]["/things/{thing_id}"]["get"]["responses"]
    assert set(got) == {"200", "400", "401", "404", "422", "503"}
    assert got["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    posted = schema["paths"]["/things"]["post"]["responses"]
    assert set(posted) == {"200", "401", "409", "413", "422"}
    assert posted["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    opened = schema["paths"]["/open/{n}"]["get"]
    assert set(opened["responses"]) == {"200", "404", "422"}
    assert opened["parameters"][0]["schema"]["maximum"] == 2**31 - 1
    assert set(schema["paths"]["/health/db"]["get"]["responses"]) == {"200", "422"}


async def test_pg_int_in_a_path_is_a_422_naming_it() -> None:
    """How a route bounds an integer column's parameter: `Annotated[PgInt, Path(ge=1)]` keeps both bounds."""
    router = APIRouter()

    @router.get("/versions/{version}")
    async def version(version: Annotated[PgInt, Path(ge=1)]) -> dict[str, int]:
        return {"version": version}

    async with await _client(create_service_app("unit", routers=[router])) as client:
        assert (await client.get("/versions/2147483647")).json() == {"version": 2**31 - 1}
        for bad in ("2147483648", "0", "9" * 5000):
            r = await client.get(f"/versions/{bad}")
            assert r.status_code == 422, bad
            assert r.json()["error"] == "validation_error" and r.json()["detail"].startswith("version:"), r.json()
