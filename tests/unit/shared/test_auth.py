from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth import decode_token, issue_token
from shared.errors import Unauthorized
from shared.settings import Settings

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


def hs_settings(**kw: object) -> Settings:
    return Settings(jwt_secret=SECRET, **kw)  # type: ignore[arg-type]


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {"sub": str(uuid.uuid4()), "iat": now, "exp": now + 60, "iss": "echoai", "aud": "echoai"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_issued_token_round_trips() -> None:
    s = hs_settings()
    user_id = uuid.uuid4()
    token, expires_in = issue_token(user_id, s)
    assert expires_in == s.jwt_ttl_seconds
    assert decode_token(token, s).user_id == user_id


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"exp": -10}, "token_expired"),
        ({"sub": None}, "invalid_token"),
        ({"exp": None}, "invalid_token"),
        ({"iat": None}, "invalid_token"),
        ({"aud": "other"}, "invalid_token"),
        ({"iss": "other"}, "invalid_token"),
        ({"sub": "not-a-uuid"}, "invalid_token"),
    ],
)
def test_rejected_claims(overrides: dict[str, object], error: str) -> None:
    # Built when the test runs (not at collection), so a long suite cannot expire the "valid" claims.
    if isinstance(overrides.get("exp"), int):
        overrides = {**overrides, "exp": int(time.time()) + int(overrides["exp"])}  # type: ignore[call-overload]
    token = jwt.encode(claims(**overrides), SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized) as exc:
        decode_token(token, hs_settings())
    assert exc.value.error == error


def test_alg_none_and_wrong_key_rejected() -> None:
    s = hs_settings()
    with pytest.raises(Unauthorized):
        decode_token(jwt.encode(claims(), key="", algorithm="none"), s)
    with pytest.raises(Unauthorized):
        decode_token(jwt.encode(claims(), "another-key-that-is-also-long-enough-here", algorithm="HS256"), s)


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_rs256_accepts_external_tokens_and_pins_the_algorithm() -> None:
    private, public = _rsa_pair()
    s = Settings(jwt_algorithm="RS256", jwt_public_key=public)
    good = jwt.encode(claims(), private, algorithm="RS256")
    assert decode_token(good, s).user_id
    # An HS256 token MAC'd with the public key (the classic algorithm-confusion attack) is refused.
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps(claims()).encode())
    signing_input = header + b"." + payload
    mac = hmac.new(public.encode(), signing_input, hashlib.sha256).digest()
    forged = (signing_input + b"." + jwt.utils.base64url_encode(mac)).decode()
    with pytest.raises(Unauthorized):
        decode_token(forged, s)


def test_rs256_without_private_key_cannot_issue() -> None:
    _, public = _rsa_pair()
    s = Settings(jwt_algorithm="RS256", jwt_public_key=public)
    with pytest.raises(Exception) as exc:
        issue_token(uuid.uuid4(), s)
    assert "external identity provider" in str(exc.value)


def test_rs256_needs_public_key() -> None:
    with pytest.raises(ValueError, match="ECHO_JWT_PUBLIC_KEY"):
        Settings(jwt_algorithm="RS256")


def test_production_needs_secret() -> None:
    with pytest.raises(ValueError, match="ECHO_JWT_SECRET"):
        Settings(env="production", jwt_secret=None)


def test_a_verified_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verified tokens are remembered (`shared.auth._verified`); the expiry is still checked at every use."""
    s = hs_settings()
    exp = int(time.time()) + 30
    token = jwt.encode(claims(exp=exp), SECRET, algorithm="HS256")
    decode_token(token, s)
    monkeypatch.setattr("shared.auth.time.time", lambda: exp + 0.0)
    with pytest.raises(Unauthorized) as exc:
        decode_token(token, s)
    assert exc.value.error == "token_expired"


def test_a_token_verified_under_one_key_is_not_taken_under_another() -> None:
    token, _ = issue_token(uuid.uuid4(), hs_settings())
    decode_token(token, hs_settings())
    other = Settings(jwt_secret="another-unit-test-secret-long-enough-for-hs256")  # type: ignore[arg-type]
    with pytest.raises(Unauthorized):
        decode_token(token, other)
    with pytest.raises(Unauthorized):
        decode_token(token, hs_settings(jwt_audience="someone-else"))
