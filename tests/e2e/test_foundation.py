"""Identity, token checks, health and the proxy, against all four services running as processes."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest

from tests.e2e.conftest import register_and_login
from tests.support.auth import SECRET, token_for
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e


def test_register_login_me_round_trip(gateway: httpx.Client) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    r = gateway.post("/auth/register", json={"email": email, "password": "analytical-engine", "display_name": "Ada"})
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == email and user["display_name"] == "Ada"
    uuid.UUID(user["user_id"])

    r = gateway.post("/auth/login", json={"email": email.upper(), "password": "analytical-engine"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0

    r = gateway.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert r.status_code == 200
    assert r.json() == user


def test_wrong_password_and_duplicate_email(gateway: httpx.Client) -> None:
    email = f"bob-{uuid.uuid4().hex[:8]}@example.com"
    assert gateway.post("/auth/register", json={"email": email, "password": "password-one"}).status_code == 201
    r = gateway.post("/auth/register", json={"email": email, "password": "password-two"})
    assert r.status_code == 409
    assert r.json()["error"] == "email_taken"
    r = gateway.post("/auth/login", json={"email": email, "password": "password-two"})
    assert r.status_code == 401
    assert set(r.json()) == {"error", "detail"}
    r = gateway.post("/auth/login", json={"email": f"nobody-{email}", "password": "password-two"})
    assert r.status_code == 401


def _bad_tokens(user_id: str) -> dict[str, str]:
    now = int(time.time())
    base = {"sub": user_id, "iat": now, "exp": now + 600, "iss": "echoai", "aud": "echoai"}
    unsigned = jwt.encode(base, key="", algorithm="none")
    return {
        "alg_none": unsigned,
        "wrong_key": jwt.encode(base, "another-secret-that-is-also-long-enough!", algorithm="HS256"),
        "expired": token_for(user_id, iat=now - 7200, exp=now - 3600),
        "missing_sub": token_for(user_id, sub=None),
        "wrong_aud": token_for(user_id, aud="someone-else"),
        "wrong_iss": token_for(user_id, iss="someone-else"),
        "missing_exp": jwt.encode({k: v for k, v in base.items() if k != "exp"}, SECRET, algorithm="HS256"),
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize(
    "kind", ["alg_none", "wrong_key", "expired", "missing_sub", "wrong_aud", "wrong_iss", "missing_exp", "garbage"]
)
def test_bad_tokens_are_401_on_gateway_and_on_each_service(
    platform: Platform, gateway: httpx.Client, kind: str
) -> None:
    user_id = str(uuid.uuid4())
    token = _bad_tokens(user_id)[kind]
    headers = {"Authorization": f"Bearer {token}"}
    r = gateway.get("/auth/me", headers=headers)
    assert r.status_code == 401, (kind, r.text)
    assert set(r.json()) == {"error", "detail"}
    for path in ("/workflows", "/sessions", "/executions"):
        r = gateway.get(path, headers=headers)
        assert r.status_code == 401, (kind, path, r.text)
    # Called directly, bypassing the gateway: each service checks the token itself.
    for name, path in (("workflow", "/workflows"), ("session", "/sessions"), ("executor", "/executions")):
        r = httpx.get(platform.service_url(name) + path, headers=headers, timeout=10)
        assert r.status_code == 401, (kind, name, r.text)


def test_missing_token_is_401_everywhere(platform: Platform, gateway: httpx.Client) -> None:
    assert gateway.get("/auth/me").status_code == 401
    for name, path in (("workflow", "/workflows"), ("session", "/sessions"), ("executor", "/executions")):
        r = httpx.get(platform.service_url(name) + path, timeout=10)
        assert r.status_code == 401, (name, r.text)


def test_health_endpoints(gateway: httpx.Client) -> None:
    assert gateway.get("/health").json() == {"status": "ok"}
    assert gateway.get("/health/db").json() == {"status": "ok"}
    assert gateway.get("/health/broker").json() == {"status": "ok"}
    services = gateway.get("/health/services").json()
    assert services["status"] == "ok"
    assert {name: s["status"] for name, s in services["services"].items()} == {
        "gateway": "ok",
        "workflow": "ok",
        "session": "ok",
        "executor": "ok",
    }


def test_unknown_path_is_json_404(gateway: httpx.Client) -> None:
    r = gateway.get("/no-such-thing")
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"


def test_authenticated_request_reaches_a_service(gateway: httpx.Client) -> None:
    headers = register_and_login(gateway, f"carol-{uuid.uuid4().hex[:8]}@example.com")
    r = gateway.get("/workflows", headers=headers)
    # The proxy forwarded the request and the service answered in the documented list shape.
    assert r.status_code == 200, r.text
    assert "items" in r.json()
