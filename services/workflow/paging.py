"""Keyset cursors over (created_at, id) for the lists of shared/pagination.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from shared.errors import BadRequest
from shared.pagination import decode_cursor, encode_cursor

T = TypeVar("T")
Keyset = tuple[datetime, uuid.UUID]

_BAD_CURSOR = "The cursor is not one this API handed out; start again without `cursor`."


def keyset(cursor: str | None) -> Keyset | None:
    data = decode_cursor(cursor)
    if data is None:
        return None
    try:
        return datetime.fromisoformat(str(data["t"])), uuid.UUID(str(data["id"]))
    except (KeyError, ValueError):
        raise BadRequest(_BAD_CURSOR, error="invalid_cursor") from None


def after_number(cursor: str | None) -> int:
    """For lists ordered by a number (versions): the last number seen, 0 at the start."""
    data = decode_cursor(cursor)
    if data is None:
        return 0
    number = data.get("n")
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise BadRequest(_BAD_CURSOR, error="invalid_cursor")
    return number


def split_page(
    rows: Sequence[T], limit: int, cursor_of: Callable[[T], dict[str, object]]
) -> tuple[list[T], str | None]:
    """`rows` was fetched with limit + 1: the extra row only says that another page exists."""
    items = list(rows[:limit])
    if len(rows) <= limit or not items:
        return items, None
    return items, encode_cursor(cursor_of(items[-1]))
