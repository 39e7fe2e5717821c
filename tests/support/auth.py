from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

SECRET = "test-secret-that-is-long-enough-for-hs256-keys"


def token_for(user_id: uuid.UUID | str, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": str(user_id), "iat": now, "exp": now + 600, "iss": "echoai", "aud": "echoai"}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def headers_for(user_id: uuid.UUID | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user_id)}"}
