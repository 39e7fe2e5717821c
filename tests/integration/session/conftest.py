from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from services.session.app import create_app
from services.session.repository import SessionRepository
from services.session.schemas import SessionOut
from shared import dbadmin
from tests.support.apps import running_app
from tests.support.auth import headers_for
from tests.support.servers import fresh_database_url


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


@pytest.fixture
def scratch_url(base_database_url: str) -> Iterator[str]:
    """A database of its own, for tests that migrate it up and down."""
    url = fresh_database_url(base_database_url)
    asyncio.run(dbadmin.ensure_database(url))
    yield url
    asyncio.run(dbadmin.drop_database(url))


async def read_whole(url: str, owned: list[tuple[uuid.UUID, uuid.UUID]]) -> dict[uuid.UUID, tuple[int, str]]:
    """(version, body) of each (session_id, owner) as the service reads a whole session, the body checked against
    the shape the API answers with."""
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as db:
            repo = SessionRepository(db)
            out = {}
            for sid, owner in owned:
                read = await repo.full(owner, sid)
                assert read is not None
                SessionOut.model_validate_json(read.body)
                out[sid] = (read.version, read.body)
            return out
    finally:
        await engine.dispose()
