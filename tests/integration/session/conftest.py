from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.session.app import create_app
from tests.support.apps import running_app
from tests.support.auth import headers_for


@pytest.fixture(scope="module")
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app) as c:
        yield c


@pytest.fixture
def alice() -> dict[str, str]:
    return headers_for(uuid.uuid4())


@pytest.fixture
def bob() -> dict[str, str]:
    return headers_for(uuid.uuid4())


async def new_session(client: httpx.AsyncClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    r = await client.post("/sessions", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]
