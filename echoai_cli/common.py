"""What every command needs: a client for the configured gateway, and tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.table import Table

from echoai_client import Client


def client() -> Client:
    """A client for `ECHOAI_URL` (or `--url`) with `ECHOAI_TOKEN` or the token `echoai login` saved."""
    return Client()


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> Table:
    grid = Table(*columns, title=title, show_edge=False, header_style="bold", pad_edge=False)
    for column in grid.columns:
        column.no_wrap = True
        column.overflow = "fold"
    for row in rows:
        grid.add_row(*["" if v is None else str(v) for v in row])
    return grid
