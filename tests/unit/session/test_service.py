"""What an append leaves for after the commit, with stand-ins for the repository and the cache."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.session.repository import Appended
from services.session.schemas import MessageIn
from services.session.service import SessionService

MESSAGE = (
    '{"message_id": "6f1c1f43-5a43-4a7e-9d0e-3c1ad0f6a001", "seq": 3, "role": "user", "content": "hi", '
    '"metadata": {}, "run_id": null, "created_at": "2026-11-27T10:00:00.000001Z"}'
)


class Db:
    def __init__(self) -> None:
        self.info: dict[str, Any] = {}


class Cache:
    enabled = True
    available = True

    def key(self, *parts: str) -> str:
        return ":".join(parts)


class Repo:
    def __init__(self, size_before: int):
        self.size_before = size_before

    async def append(self, *args: Any, **kwargs: Any) -> Appended:
        return Appended(version=7, body=MESSAGE, size_before=self.size_before)


@pytest.mark.parametrize(
    ("size_before", "inline", "invalidated"), [(100, 32_768, False), (40_000, 32_768, True), (0, -1, True)]
)
async def test_only_a_version_that_could_be_cached_is_invalidated(
    size_before: int, inline: int, invalidated: bool
) -> None:
    db = Db()
    service = SessionService(db, Cache(), inline_bytes=inline)  # type: ignore[arg-type]
    service.repo = Repo(size_before)  # type: ignore[assignment]
    checked = await service.append(uuid.uuid4(), uuid.uuid4(), MessageIn(role="user", content="hi"))
    assert checked.body == MESSAGE.encode()
    assert bool(db.info.get("after_commit")) is invalidated
