"""Input PostgreSQL cannot store is refused at the edge, once, for every service.

One rule for every JSON body, query parameter and path segment, applied by `InputGuard` before any route runs:

- text must be storable: no NUL (U+0000) and no unpaired surrogate (U+D800-U+DFFF), in values and object keys
  alike → 422 `invalid_text`;
- numbers must be finite as a double (no `NaN`, `Infinity`, `1e400`, which overflows to infinity, nor an
  integer beyond about ±1.8e308) → 422 `invalid_number`. JSONB keeps any of those, but no JSON client can read
  them back, and PostgreSQL renders 1e308 as a 309-digit integer that must stay writable;
- objects and arrays may nest at most `MAX_DEPTH` (64) levels → 422 `too_deep`.

Every answer names the place: `body.definition.agents[0].goal`, `query.tag`, `path.workflow_id`. The body is
parsed the way the framework parses it (`json.loads` on the raw bytes, so UTF-8 that encodes a surrogate is
caught too), walked without recursion, and then handed on byte for byte, so the route parses it as before.

Integers that reach an `integer` column through the path or the query are bounded where they are declared:
`PgInt` / `PgBigInt` make an out-of-range value a 422 naming the parameter instead of an overflow in the
database.
"""

from __future__ import annotations

import email.message
import json
import math
import re
import sys
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi.routing import iter_route_contexts
from pydantic import Field
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import Unprocessable, error_response
from shared.limits import replaying

MAX_DEPTH = 64
INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1
INT8_MIN, INT8_MAX = -(2**63), 2**63 - 1

PgInt = Annotated[int, Field(ge=INT4_MIN, le=INT4_MAX)]
"""An integer that fits PostgreSQL's `integer` (int4)."""
PgBigInt = Annotated[int, Field(ge=INT8_MIN, le=INT8_MAX)]
"""An integer that fits PostgreSQL's `bigint` (int8)."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_INT = int(sys.float_info.max)
_MAX_INT_DIGITS = len(str(_MAX_INT)) + 1  # with a sign


class _BadNumber:
    """Stands in for a number the parser met, so the walk can name where it was."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _number_hooks(found: list[str]) -> dict[str, Any]:
    """Parser hooks that stand a `_BadNumber` in for each unacceptable number and note its text in `found`."""

    def constant(text: str) -> _BadNumber:
        found.append(text)
        return _BadNumber(text)

    def as_float(text: str) -> float | _BadNumber:
        value = float(text)
        return value if math.isfinite(value) else constant(text)

    def as_int(text: str) -> int | _BadNumber:
        # Checked before int(): Python refuses to convert more than 4300 digits with a ValueError of its own.
        if len(text) > _MAX_INT_DIGITS:
            return constant(text)
        value = int(text)
        return value if -_MAX_INT <= value <= _MAX_INT else constant(text)

    return {"parse_constant": constant, "parse_float": as_float, "parse_int": as_int}


def _part(key: str | int) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    if _NAME.fullmatch(key):
        return f".{key}"
    shown = key if len(key) <= 40 else key[:40] + "…"
    # ensure_ascii: the key may itself be the unstorable text; its escaped form is safe to send back.
    return f"[{json.dumps(shown)}]"


def field_path(root: str, parts: tuple[str | int, ...]) -> str:
    return root + "".join(_part(p) for p in parts)


def _text_problem(text: str) -> str | None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "holds a NUL character (U+0000), which cannot be stored; remove it"
    return "holds an unpaired surrogate (U+D800 to U+DFFF), which is not valid Unicode; send the text as UTF-8"


def _number_problem(text: str) -> str:
    shown = text if len(text) <= 24 else text[:12] + "…" + f" ({len(text)} characters)"
    if "." in text or "e" in text.lower() or not text.lstrip("-").isdigit():
        return f"{shown} is not a finite number; numbers must be finite (no NaN, Infinity or overflowing exponents)"
    return f"{shown} is out of range; numbers must fit a 64-bit float (about ±1.8e308)"


def _too_deep(where: str) -> Unprocessable:
    return Unprocessable(
        f"{where}: nested more than {MAX_DEPTH} levels deep (objects and arrays inside each other); flatten it.",
        error="too_deep",
    )


def check_value(value: Any, root: str = "body") -> None:
    """Raise `Unprocessable` for the first unstorable text, non-finite or oversized number, or nesting deeper
    than `MAX_DEPTH` in a parsed JSON value. Iterative, so a deep document cannot exhaust the stack here."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, parts = stack.pop()
        if isinstance(node, str):
            problem = _text_problem(node)
            if problem:
                raise Unprocessable(f"{field_path(root, parts)}: text {problem}.", error="invalid_text")
        elif isinstance(node, _BadNumber):
            raise Unprocessable(f"{field_path(root, parts)}: {_number_problem(node.text)}.", error="invalid_number")
        elif isinstance(node, dict | list):
            if len(parts) >= MAX_DEPTH:
                shown = field_path(root, parts[:4]) + ("…" if len(parts) > 4 else "")
                raise _too_deep(shown)
            if isinstance(node, dict):
                children: list[tuple[Any, tuple[str | int, ...]]] = []
                for key, child in node.items():
                    problem = _text_problem(key)
                    if problem:
                        where = field_path(root, (*parts, key))
                        raise Unprocessable(f"{where}: the key {problem}.", error="invalid_text")
                    children.append((child, (*parts, key)))
            else:
                children = [(child, (*parts, i)) for i, child in enumerate(node)]
            # Reversed, so the first problem in document order is the one reported.
            stack.extend(reversed(children))


def parse_json(body: bytes, bad_numbers: list[str] | None = None) -> Any:
    """Parse a JSON body as the framework will, keeping what it would silently accept (NaN, Infinity,
    overflowing numbers) visible to `check_value` (and listed in `bad_numbers`). Raises `Unprocessable` for
    nesting the parser itself cannot handle and for bytes that are not UTF-8; `ValueError` for any other
    malformed JSON (left to the route)."""
    try:
        return json.loads(body, **_number_hooks([] if bad_numbers is None else bad_numbers))
    except RecursionError:
        raise _too_deep("body") from None
    except UnicodeDecodeError:
        raise Unprocessable("body: the request body is not valid UTF-8.", error="invalid_text") from None


# What unstorable text looks like in UTF-8 JSON: the escape of NUL, the escape of a surrogate (paired or not),
# or the UTF-8 bytes of a surrogate. Absent from the raw bytes, no string or key can hold one.
_SUSPECT_TEXT = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _deeper_than(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def check_body(body: bytes) -> None:
    """`check_value(parse_json(body))`, with the field-by-field walk only when there can be something to find:
    a bad number seen by the parser, a byte pattern of unstorable text, or nesting past the bound. Most bodies
    cost one parse and one walk over their containers."""
    bad_numbers: list[str] = []
    value = parse_json(body, bad_numbers)
    suspect = (
        bool(bad_numbers)
        or json.detect_encoding(body) != "utf-8"
        or ((b"\\u" in body or b"\xed" in body) and _SUSPECT_TEXT.search(body) is not None)
    )
    if suspect or _deeper_than(value, MAX_DEPTH):
        check_value(value)


def is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    """`application/json` and `application/*+json` are parsed as JSON, as the framework does; so is a body with
    no content type, which the framework parses for a route that turns its strict content-type rule off."""
    for name, value in headers:
        if name == b"content-type":
            message = email.message.Message()
            message["content-type"] = value.decode("latin-1")
            if message.get_content_maintype() != "application":
                return False
            subtype = message.get_content_subtype()
            return subtype == "json" or subtype.endswith("+json")
    return True


def _query_items(scope: Scope) -> Iterator[tuple[str, str]]:
    query = scope.get("query_string", b"").decode("latin-1")
    yield from parse_qsl(query, keep_blank_values=True)


def _path_parameter(scope: Scope, segment: str) -> str:
    """`path.<name>` for the parameter the first route matching the path gives that segment, else `path`."""
    path = scope.get("path", "")
    for route in iter_route_contexts(getattr(scope.get("app"), "routes", [])):
        regex = getattr(route, "path_regex", None)
        found = regex.match(path) if regex is not None else None
        if found is None:
            continue
        for name, value in found.groupdict().items():
            if segment in value and name != "path":  # `path` is the gateway's catch-all, not a field
                return f"path.{name}"
        break
    return "path"


def check_url(scope: Scope) -> None:
    for name, value in _query_items(scope):
        for text, what in ((name, "the parameter name"), (value, "text")):
            problem = _text_problem(text)
            if problem:
                where = f"query{_part(name)}" if what == "text" else "query"
                raise Unprocessable(f"{where}: {what} {problem}.", error="invalid_text")
    path: str = scope.get("path", "")
    problem = _text_problem(path)
    if problem:
        segment = next(s for s in path.split("/") if _text_problem(s))
        raise Unprocessable(f"{_path_parameter(scope, segment)}: text {problem}.", error="invalid_text")


class InputGuard:
    """Pure ASGI middleware applying the module's rule to every HTTP request. Install it inside the body size
    limit, so it never reads more than the limit allows."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_url(scope)
        except Unprocessable as exc:
            await error_response(exc)(scope, receive, send)
            return
        if not is_json(scope.get("headers") or []):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            try:
                check_body(body)
            except Unprocessable as exc:
                await error_response(exc)(scope, receive, send)
                return
            except ValueError:
                pass  # malformed JSON: the route answers it, as it always has
        await self.app(scope, replaying(body, receive), send)
