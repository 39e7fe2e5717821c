"""Cursor pagination: `{"items": [...], "next_cursor": "<opaque>" | null}`."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from shared.errors import BadRequest

T = TypeVar("T")

LimitParam = Annotated[int, Query(ge=1, le=200, description="Page size (1 to 200).")]
CursorParam = Annotated[str | None, Query(description="The next_cursor of the previous page.")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


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
        raise BadRequest(
            "The cursor is not one this API handed out; start again without `cursor`.", error="invalid_cursor"
        ) from None
    if not isinstance(data, dict):
        raise BadRequest(
            "The cursor is not one this API handed out; start again without `cursor`.", error="invalid_cursor"
        )
    return data
