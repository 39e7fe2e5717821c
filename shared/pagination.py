"""Cursor pagination, one way for every list: `{"items": [...], "next_cursor": "<opaque>" | null}`.

A cursor is the position of the last item of a page (for example its `(created_at, id)` keyset), encoded as
URL-safe base64 JSON. Repositories fetch `limit + 1` rows after the position; `split_page` turns the extra row
into the next cursor, so a page that ends exactly at the last item says so (no empty last page).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, true, tuple_

from shared.errors import BadRequest

T = TypeVar("T")
Keyset = tuple[datetime, uuid.UUID]

LimitParam = Annotated[int, Query(ge=1, le=200, description="Page size (1 to 200).")]
CursorParam = Annotated[str | None, Query(max_length=1024, description="The next_cursor of the previous page.")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def invalid_cursor() -> BadRequest:
    return BadRequest(
        "The cursor is not one this API handed out; start again without `cursor`.", error="invalid_cursor"
    )


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid_cursor() from None
    if not isinstance(data, dict):
        raise invalid_cursor()
    return data


def keyset_cursor(at: datetime, key: uuid.UUID) -> dict[str, str]:
    return {"t": at.isoformat(), "id": str(key)}


def decode_keyset(cursor: str | None) -> Keyset | None:
    """The `(timestamp, id)` position a keyset cursor holds; None for the first page."""
    data = decode_cursor(cursor)
    if data is None:
        return None
    try:
        return datetime.fromisoformat(str(data["t"])), uuid.UUID(str(data["id"]))
    except (KeyError, ValueError):
        raise invalid_cursor() from None


def decode_number(cursor: str | None, key: str = "n") -> int:
    """For lists ordered by a number (versions, seq): the last number seen, 0 at the start."""
    data = decode_cursor(cursor)
    if data is None:
        return 0
    number = data.get(key)
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 2**31:
        raise invalid_cursor()
    return number


def decode_text(cursor: str | None, key: str) -> str | None:
    data = decode_cursor(cursor)
    if data is None:
        return None
    value = data.get(key)
    if not isinstance(value, str):
        raise invalid_cursor()
    return value


def older_than(at: Any, key: Any, after: Keyset | None) -> ColumnElement[bool]:
    """Rows after `after` in newest-first `(at, key)` order: a row comparison PostgreSQL serves from the index."""
    if after is None:
        return true()
    return tuple_(at, key) < tuple_(*after)


def split_page(rows: Sequence[T], limit: int, cursor_of: Callable[[T], dict[str, Any]]) -> tuple[list[T], str | None]:
    """`rows` was fetched with limit + 1: the extra row only says that another page exists."""
    items = list(rows[:limit])
    if len(rows) <= limit or not items:
        return items, None
    return items, encode_cursor(cursor_of(items[-1]))
