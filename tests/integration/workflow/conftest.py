"""The workflow service in process (real lifespan, real PostgreSQL), with a working-copy root of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.workflow.app import create_app
from shared import dbadmin
from tests.support.apps import running_app
from tests.support.auth import headers_for


@pytest.fixture(scope="module")
def fs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workflows")


@pytest.fixture(scope="module")
async def client(database_url: str, fs_root: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(lambda: create_app(fs_root=fs_root)) as c:
        yield c


@pytest.fixture(scope="module")
async def pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection for checking rows behind the API's back."""
    conn = await asyncpg.connect(dbadmin.asyncpg_dsn(database_url))
    try:
        yield conn
    finally:
        await conn.close()


class Caller:
    """One user of the API."""

    def __init__(self, client: httpx.AsyncClient):
        self.user_id = uuid.uuid4()
        self.headers = headers_for(self.user_id)
        self.client = client

    async def request(
        self, method: str, url: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return await self.client.request(method, url, headers={**(headers or {}), **self.headers}, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)

    async def save(self, definition: dict[str, Any], save_as: str, workflow_id: str | None = None) -> dict[str, Any]:
        body = {"definition": definition, "save_as": save_as}
        if workflow_id is None:
            r = await self.post("/workflows", json=body)
            assert r.status_code == 201, r.text
        else:
            r = await self.put(f"/workflows/{workflow_id}", json=body)
            assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def alice(client: httpx.AsyncClient) -> Caller:
    return Caller(client)


@pytest.fixture
def bob(client: httpx.AsyncClient) -> Caller:
    return Caller(client)


@pytest.fixture
def carol(client: httpx.AsyncClient) -> Caller:
    return Caller(client)


def agent(name: str, agent_id: str | None = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "role": name,
        "goal": f"{name} well",
        "backstory": "",
        "task": {"description": "Work on {message}", "expected_output": "text"},
        "llm": {"provider": "echo", "model": "echo-1"},
        **extra,
    }
    if agent_id is not None:
        data["agent_id"] = agent_id
    return data


def definition(
    name: str = "Research pipeline", agents: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"name": name, "execution_model": "sequential", "agents": agents or [], "connections": [], **extra}
