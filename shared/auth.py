"""JWT with PyJWT: the algorithm comes from configuration, never from the token, and every claim is required."""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.errors import ServiceUnavailable, Unauthorized
from shared.settings import Settings

REQUIRED_CLAIMS = ["sub", "exp", "iat", "iss", "aud"]


@dataclass(frozen=True)
class CurrentUser:
    user_id: uuid.UUID
    anonymous: bool = False
    token: str | None = None


def _verification_key(settings: Settings) -> str:
    if settings.jwt_algorithm == "RS256":
        assert settings.jwt_public_key is not None
        return settings.jwt_public_key
    return settings.signing_secret


def issue_token(user_id: uuid.UUID, settings: Settings, ttl: int | None = None) -> tuple[str, int]:
    expires_in = ttl if ttl is not None else settings.jwt_ttl_seconds
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + expires_in,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    if settings.jwt_algorithm == "RS256":
        if settings.jwt_private_key is None:
            raise ServiceUnavailable(
                "This platform verifies tokens from an external identity provider (RS256) and holds no signing key; "
                "sign in there.",
                error="token_issuing_disabled",
            )
        key = settings.jwt_private_key.get_secret_value()
    else:
        key = settings.signing_secret
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm), expires_in


def decode_token(token: str, settings: Settings) -> CurrentUser:
    try:
        user_id, expires = _verified(
            token, _verification_key(settings), settings.jwt_algorithm, settings.jwt_audience, settings.jwt_issuer
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized(_EXPIRED, error="token_expired") from None
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"The token lacks the required claim '{exc.claim}'.", error="invalid_token") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("The token is not valid for this platform; log in again.", error="invalid_token") from None
    except ValueError:
        raise Unauthorized("The token's subject is not a user id.", error="invalid_token") from None
    if expires <= time.time():  # verified earlier, expired since (PyJWT's rule: expired once `exp` is reached)
        raise Unauthorized(_EXPIRED, error="token_expired")
    return CurrentUser(user_id=user_id, token=token)


_EXPIRED = "The token has expired; log in again."


# A client sends the same token with every request until it expires: verifying it once per process spares each
# request PyJWT's work (about 150 µs, twice on a send: the executor, then the gateway). Only tokens that verified
# are kept, under everything the verification depended on; the expiry is checked again at every use above, and
# nothing else about a verified token can change (the key, algorithm, audience and issuer are part of the key).
@functools.lru_cache(maxsize=4096)
def _verified(token: str, key: str, algorithm: str, audience: str, issuer: str) -> tuple[uuid.UUID, float]:
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=[algorithm], audience=audience, issuer=issuer, options={"require": REQUIRED_CLAIMS}
    )
    return uuid.UUID(str(claims["sub"])), float(claims["exp"])


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Send the token as 'Authorization: Bearer <token>'.", error="invalid_token")
    return value.strip()


# Declares the bearer scheme in every service's API document; the header itself is read by `bearer_token`, which
# gives the error sentences (HTTPBearer's own errors would not be in the house shape).
_BEARER = HTTPBearer(auto_error=False, bearerFormat="JWT", description="A token from POST /auth/login.")


async def get_current_user(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None
) -> CurrentUser:
    """The caller; in `optional` enforcement a request without a token is the anonymous user."""
    settings: Settings = request.app.state.settings
    token = bearer_token(request)
    if token is None:
        if settings.auth_enforcement == "optional":
            return CurrentUser(user_id=settings.anonymous_user_id, anonymous=True)
        raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>'.")
    return decode_token(token, settings)


User = Annotated[CurrentUser, Depends(get_current_user)]
