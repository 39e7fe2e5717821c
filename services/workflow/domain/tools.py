"""What makes a tool body valid before it is stored: api tools name the URL they call and a method we know."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

from services.workflow.domain.records import ToolRow
from services.workflow.schemas import ToolIn
from shared.errors import Unprocessable

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def validate_definition(body: ToolIn) -> None:
    """An api tool is called over HTTP: it needs an absolute http(s) `url` and, optionally, a `method`."""
    if body.tool_type != "api":
        return
    url = body.definition.get("url")
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:  # e.g. an unclosed IPv6 bracket: "http://[::1"
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise Unprocessable("definition.url: an api tool needs the absolute http or https URL it calls.")
    method = body.definition.get("method")
    if method is not None and (not isinstance(method, str) or method.upper() not in HTTP_METHODS):
        raise Unprocessable(f"definition.method: use one of {', '.join(HTTP_METHODS)} (or leave it out for GET).")


def dedupe_tags(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def tool_row(tool_id: uuid.UUID, body: ToolIn) -> ToolRow:
    """The row a POST or PUT writes; raises Unprocessable for an api tool without a usable URL or method."""
    validate_definition(body)
    return ToolRow(
        tool_id=tool_id,
        name=body.name,
        tool_type=body.tool_type,
        tags=dedupe_tags(body.tags),
        definition=body.definition,
    )
