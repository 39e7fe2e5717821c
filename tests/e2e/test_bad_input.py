"""Every bad input of the table through the gateway, all four services real processes: a 4xx in the
`{error, detail}` shape, nothing stored, and the next good request of another user is served."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import register_and_login
from tests.support.bad_input import CASES, BadInput, Objects, check

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def owner(gateway: httpx.Client) -> dict[str, str]:
    return register_and_login(gateway, f"bad-input-{uuid.uuid4().hex[:8]}@example.com")


@pytest.fixture(scope="module")
def bystander(gateway: httpx.Client) -> dict[str, str]:
    return register_and_login(gateway, f"bystander-{uuid.uuid4().hex[:8]}@example.com")


@pytest.fixture(scope="module")
def objects(gateway: httpx.Client, owner: dict[str, str]) -> Objects:
    made = []
    for path, body in [
        ("/workflows", {"save_as": "final", "definition": {"name": "ok"}}),
        ("/agents", {"name": "agent"}),
        ("/tools", {"name": "tool", "tool_type": "custom"}),
        ("/sessions", {}),
    ]:
        r = gateway.post(path, json=body, headers=owner)
        assert r.status_code == 201, r.text
        made.append(r.json())
    return Objects(made[0]["workflow_id"], made[1]["agent_id"], made[2]["tool_id"], made[3]["session_id"])


def _stored(gateway: httpx.Client, headers: dict[str, str], objects: Objects) -> list[object]:
    seen: list[object] = []
    for path in ("/workflows", "/agents", "/tools", "/sessions", "/executions"):
        r = gateway.get(path, headers=headers)
        assert r.status_code == 200, r.text
        seen.append(sorted(str(item) for item in r.json()["items"]))
    seen.append(gateway.get(f"/sessions/{objects.session_id}", headers=headers).json()["messages"])
    return seen


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_through_the_gateway(
    gateway: httpx.Client, owner: dict[str, str], bystander: dict[str, str], objects: Objects, case: BadInput
) -> None:
    before = _stored(gateway, owner, objects)
    r = gateway.request(
        case.method, case.url(objects), content=case.content(), headers={**owner, "content-type": "application/json"}
    )
    check(case, r.status_code, r.json())
    # Another user's request right after is served, over whatever connection the gateway pooled.
    assert gateway.get("/workflows", headers=bystander).status_code == 200
    assert _stored(gateway, owner, objects) == before, "a refused request changed stored data"
