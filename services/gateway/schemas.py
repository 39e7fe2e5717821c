from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=8, max_length=256)
    display_name: str | None = Field(default=None, max_length=200)


class LoginIn(BaseModel):
    # Not EmailStr: a login only has to match a stored address, and reserved domains (the seeded admin's
    # `.local`) must not be refused before the lookup.
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    email: str
    display_name: str | None


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class ServiceStateOut(BaseModel):
    status: Literal["ok", "down"]
    url: str | None = None
    latency_ms: float | None = None
    detail: str | None = None


class ServicesHealthOut(BaseModel):
    """`/health/services`: `ok` when every service behind the gateway answers its `/health`, else `degraded`."""

    status: Literal["ok", "degraded"]
    services: dict[str, ServiceStateOut]
