"""Creating an agent or tool under the ID a client asked for, or, when another account holds that ID, under one
of the caller's own: the answer is then the one an unused ID gets, so no ID is revealed as taken."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.workflow.domain.definitions import own_id

T = TypeVar("T")


async def create_claiming(
    requested: uuid.UUID, prefix: str, owner: uuid.UUID, create: Callable[[uuid.UUID], Awaitable[T | None]]
) -> T | None:
    """`create(id)` returns the new row, or None when another account holds `id` (it raises when the caller
    does). Tried with the requested ID, then the caller's own derived from it, then a random one; None only
    when all three are held by others."""
    for candidate in (requested, own_id(requested, prefix, owner), uuid.uuid4()):
        row = await create(candidate)
        if row is not None:
            return row
    return None
